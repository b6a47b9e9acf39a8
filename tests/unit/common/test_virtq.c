/* Unit tests of the split-ring virtqueue (common/virtq.c). The test plays the guest driver: it
 * lays out rings and buffers in a fake guest RAM of three malloc'd regions (0 and 1 with a gap
 * between them in guest-physical space, 2 adjacent to 1 but mapped elsewhere) and checks what
 * the device side sees, including every hostile chain of DESIGN.md §8. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "virtq.h"

#define NUM      8
#define R0_GPA   0x100000ULL
#define R0_SIZE  0x10000ULL
#define R1_GPA   0x200000ULL            /* gap between region 0 and region 1 */
#define R1_SIZE  0x10000ULL
#define R2_GPA   (R1_GPA + R1_SIZE)     /* adjacent to region 1, separate mapping */
#define R2_SIZE  0x1000ULL
#define UVA_OFF  0x7f0000000000ULL

#define DESC_GPA  R0_GPA
#define AVAIL_GPA (R0_GPA + 0x1000)
#define USED_GPA  (R0_GPA + 0x2000)
#define DATA0     (R0_GPA + 0x4000)
#define DATA1     (R1_GPA + 0x1000)
#define ITABLE    (R1_GPA + 0x8000)     /* indirect tables */

#define F_NEXT  VRING_DESC_F_NEXT
#define F_WRITE VRING_DESC_F_WRITE
#define F_IND   VRING_DESC_F_INDIRECT

static struct vq_mem mem;
static struct vq vq;
static struct vq_inflight *area;
static struct iovec iov[16];
static struct vq_elem el = { .iov = iov, .iov_cap = 16 };
static struct vring_avail *avail;
static struct vring_used *used;
static uint16_t drv_idx;                /* the driver's avail idx */
static int logfd = -1;

static void *hva(uint64_t gpa)
{
	void *p = vq_gpa_to_hva(&mem, gpa, 1);

	cr_assert_not_null(p, "test bug: gpa %#llx not in RAM", (unsigned long long)gpa);
	return p;
}

static void add_region(uint64_t gpa, uint64_t size)
{
	struct vq_region *r = &mem.r[mem.nr++];

	r->hva = aligned_alloc(4096, size);
	cr_assert_not_null(r->hva);
	memset(r->hva, 0, size);
	r->gpa = gpa;
	r->size = size;
	r->uaddr = gpa + UVA_OFF;
}

static void setup(void)
{
	memset(&mem, 0, sizeof(mem));
	memset(&vq, 0, sizeof(vq));
	add_region(R0_GPA, R0_SIZE);
	add_region(R1_GPA, R1_SIZE);
	add_region(R2_GPA, R2_SIZE);
	avail = hva(AVAIL_GPA);
	used = hva(USED_GPA);
	drv_idx = 0;
	el.iov_cap = 16;
	area = calloc(1, vq_inflight_queue_size(NUM));
	cr_assert_not_null(area);
	logfd = memfd_create("vqlog", 0);
	cr_assert_geq(logfd, 0);
	log_set_fd(logfd);
}

static void teardown(void)
{
	vq_teardown(&vq);
	for (unsigned i = 0; i < mem.nr; i++)
		free(mem.r[i].hva);
	free(area);
	log_set_fd(2);
	close(logfd);
}

TestSuite(virtq, .init = setup, .fini = teardown);

/* ---- the driver side ---- */

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc d = { htole64(addr), htole32(len), htole16(flags), htole16(next) };

	memcpy(hva(table + 16ULL * i), &d, sizeof(d));
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put_desc(DESC_GPA, i, addr, len, flags, next);
}

static void make_avail(uint16_t head)
{
	avail->ring[drv_idx % NUM] = htole16(head);
	drv_idx++;
	__atomic_store_n(&avail->idx, htole16(drv_idx), __ATOMIC_RELEASE);
}

static void start_at(struct vq *q, bool event_idx)
{
	cr_assert_eq(vq_setup(q, "test q0", &mem, NUM, hva(DESC_GPA), avail, used, event_idx), 0);
}

static void start(bool event_idx)
{
	start_at(&vq, event_idx);
}

static uint16_t used_idx(void)
{
	return le16toh(used->idx);
}

static uint16_t used_event_set(uint16_t v)
{
	avail->ring[NUM] = htole16(v);
	return v;
}

static uint16_t avail_event_get(void)
{
	return le16toh(*(uint16_t *)(void *)&used->ring[NUM]);
}

static void check_used(uint16_t slot, uint32_t id, uint32_t len)
{
	cr_assert_eq(le32toh(used->ring[slot % NUM].id), id, "used[%u].id", slot);
	cr_assert_eq(le32toh(used->ring[slot % NUM].len), len, "used[%u].len", slot);
}

static void check_iov(unsigned i, uint64_t gpa, size_t len)
{
	cr_assert_eq(iov[i].iov_base, hva(gpa), "iov[%u] base", i);
	cr_assert_eq(iov[i].iov_len, len, "iov[%u] len", i);
}

static char *read_log(void)
{
	static char buf[4096];
	ssize_t n = pread(logfd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The current pop must break the queue for `why`; it stays broken, logs once, pushes nothing. */
static void expect_broken(const char *why)
{
	uint16_t u = used_idx();
	char *log;

	cr_assert_eq(vq_pop(&vq, &el), -EIO);
	cr_assert(vq.broken);
	cr_assert_eq(vq_pop(&vq, &el), -EIO, "a broken queue must stay broken");
	/* even a good chain is not processed any more */
	desc(NUM - 1, DATA0, 16, 0, 0);
	make_avail(NUM - 1);
	cr_assert_eq(vq_pop(&vq, &el), -EIO);
	cr_assert_eq(vq_push(&vq, 0, 0), -EIO);
	cr_assert_eq(used_idx(), u, "a broken queue must not touch the used ring");
	cr_assert_not(vq_should_notify(&vq));
	log = read_log();
	cr_assert_eq(count_lines(log), 1, "one log line, got: %s", log);
	cr_assert_not_null(strstr(log, "test q0"), "log names the queue: %s", log);
	cr_assert_not_null(strstr(log, why), "log says \"%s\": %s", why, log);
}

/* ---- setup and translation ---- */

Test(virtq, translate_bounds)
{
	cr_assert_eq(vq_gpa_to_hva(&mem, R0_GPA, R0_SIZE), mem.r[0].hva);
	cr_assert_eq(vq_gpa_to_hva(&mem, R0_GPA + R0_SIZE - 1, 1), mem.r[0].hva + R0_SIZE - 1);
	cr_assert_null(vq_gpa_to_hva(&mem, R0_GPA + R0_SIZE - 1, 2));
	cr_assert_null(vq_gpa_to_hva(&mem, R0_GPA - 1, 2));
	cr_assert_null(vq_gpa_to_hva(&mem, R0_GPA + R0_SIZE, 1), "gap");
	cr_assert_null(vq_gpa_to_hva(&mem, R2_GPA - 4, 8), "spans two regions");
	cr_assert_null(vq_gpa_to_hva(&mem, UINT64_MAX - 4, 16), "wraps");
	cr_assert_null(vq_gpa_to_hva(&mem, R0_GPA + 16, UINT64_MAX), "wraps");
	cr_assert_eq(vq_gpa_to_hva(&mem, R2_GPA, 8), mem.r[2].hva);
	cr_assert_eq(vq_uva_to_hva(&mem, R1_GPA + UVA_OFF + 8, 8), mem.r[1].hva + 8);
	cr_assert_null(vq_uva_to_hva(&mem, R1_GPA + 8, 8), "a gpa is not a uva");
	mem.nr = 99;   /* a bogus count must not walk past the table */
	cr_assert_null(vq_gpa_to_hva(&mem, 0x10, 8));
	mem.nr = 3;
}

Test(virtq, setup_checks)
{
	void *d = hva(DESC_GPA);

	cr_assert_eq(vq_setup(&vq, "q", &mem, 0, d, avail, used, false), -EINVAL);
	cr_assert_eq(vq_setup(&vq, "q", &mem, 6, d, avail, used, false), -EINVAL);
	cr_assert_eq(vq_setup(&vq, "q", &mem, NUM, d, (char *)avail + 1, used, false), -EINVAL);
	cr_assert_eq(vq_setup(&vq, "q", &mem, NUM, d, avail, (char *)used + 2, false), -EINVAL);
	cr_assert_eq(vq_setup(&vq, "q", &mem, NUM, NULL, avail, used, false), -EINVAL);
	cr_assert_not(vq.ready);
	used->idx = htole16(5);
	cr_assert_eq(vq_setup(&vq, "q", &mem, NUM, d, avail, used, false), 0);
	cr_assert(vq.ready);
	cr_assert_eq(vq.used_idx, 5, "used index starts at the ring's");
	/* a second setup frees the first one's state (ASan would report a leak) */
	cr_assert_eq(vq_setup(&vq, "q", &mem, 32768, d, avail, used, false), 0);
	cr_assert_eq(vq.num, 32768);
}

Test(virtq, inflight_layout)
{
	cr_assert_eq(sizeof(struct vq_inflight), 16);
	cr_assert_eq(sizeof(struct vq_inflight_desc), 16);
	cr_assert_eq(vq_inflight_queue_size(8), 192);
	cr_assert_eq(vq_inflight_queue_size(256), 4160);
	for (unsigned n = 1; n <= VQ_MAX_SIZE; n *= 2) {
		size_t s = vq_inflight_queue_size(n);

		cr_assert_geq(s, sizeof(struct vq_inflight) + n * sizeof(struct vq_inflight_desc));
		cr_assert_eq(s % 64, 0);
	}
}

/* ---- good chains ---- */

Test(virtq, direct_chain_mixed_directions)
{
	start(false);
	memcpy(hva(DATA0), "hello", 5);
	desc(0, DATA0, 100, F_NEXT, 3);
	desc(3, DATA1, 200, F_NEXT, 5);
	desc(5, DATA1 + 0x1000, 300, F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(el.head, 0);
	cr_assert_eq(el.out_num, 2);
	cr_assert_eq(el.in_num, 1);
	cr_assert_eq(el.out_len, 300);
	cr_assert_eq(el.in_len, 300);
	check_iov(0, DATA0, 100);
	check_iov(1, DATA1, 200);
	check_iov(2, DATA1 + 0x1000, 300);
	cr_assert_eq(memcmp(iov[0].iov_base, "hello", 5), 0);
	cr_assert_eq(vq_get_base(&vq), 1);
	cr_assert_eq(vq_pop(&vq, &el), 0, "nothing more available");
	cr_assert_eq(vq_push(&vq, 0, 123), 0);
	cr_assert_eq(used_idx(), 1);
	check_used(0, 0, 123);
	cr_assert_eq(vq_push(&vq, 0, 1), -EINVAL, "pushed twice");
	cr_assert_eq(used_idx(), 1);
	/* once pushed, the driver may offer the same head again */
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(el.head, 0);
	cr_assert_not(vq.broken);
}

Test(virtq, chain_of_exactly_num_descriptors)
{
	start(false);
	for (unsigned i = 0; i < NUM; i++)
		desc(i, DATA0 + 16 * i, 16, i + 1 < NUM ? F_NEXT : 0, (uint16_t)(i + 1));
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(el.out_num, NUM);
	cr_assert_eq(el.out_len, 16 * NUM);
	check_iov(NUM - 1, DATA0 + 16 * (NUM - 1), 16);
}

Test(virtq, indirect_chain)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 16, F_NEXT, 2);
	put_desc(ITABLE, 2, DATA1, 512, F_WRITE | F_NEXT, 1);
	put_desc(ITABLE, 1, R2_GPA, 1, F_WRITE, 0);
	/* the WRITE flag of the descriptor naming the table is ignored (§2.6.5.3.2) */
	desc(4, ITABLE, 3 * 16, F_IND | F_WRITE, 0);
	make_avail(4);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(el.head, 4);
	cr_assert_eq(el.out_num, 1);
	cr_assert_eq(el.in_num, 2);
	cr_assert_eq(el.out_len, 16);
	cr_assert_eq(el.in_len, 513);
	check_iov(0, DATA0, 16);
	check_iov(1, DATA1, 512);
	check_iov(2, R2_GPA, 1);
	cr_assert_eq(vq_push(&vq, 4, 513), 0);
	check_used(0, 4, 513);
}

Test(virtq, indirect_table_of_max_entries)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, F_NEXT, VQ_MAX_INDIRECT - 1);
	put_desc(ITABLE, VQ_MAX_INDIRECT - 1, DATA1, 8, F_WRITE, 0);
	desc(0, ITABLE, VQ_MAX_INDIRECT * 16, F_IND, 0);
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(el.out_num + el.in_num, 2);
}

Test(virtq, zero_length_segments_skipped)
{
	start(false);
	/* a zero-length buffer transfers nothing, so even an address outside RAM is harmless */
	desc(1, 0xdead0000, 0, F_NEXT, 2);
	desc(2, DATA0, 8, F_NEXT, 6);
	desc(6, DATA1, 0, F_WRITE | F_NEXT, 7);
	desc(7, DATA1 + 64, 4, F_WRITE, 0);
	make_avail(1);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(el.out_num, 1);
	cr_assert_eq(el.in_num, 1);
	check_iov(0, DATA0, 8);
	check_iov(1, DATA1 + 64, 4);
}

Test(virtq, iov_cap_exactly_filled)
{
	start(false);
	el.iov_cap = 2;
	desc(0, DATA0, 8, F_NEXT, 1);
	desc(1, DATA0 + 8, 0, F_NEXT, 2);
	desc(2, DATA1, 8, F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(el.out_num + el.in_num, 2);
}

Test(virtq, indices_wrap_and_out_of_order_completion)
{
	used->idx = htole16(65534);
	start(false);
	vq_set_base(&vq, 65534);
	drv_idx = 65534;
	for (uint16_t h = 0; h < 3; h++) {
		desc(h, DATA0 + 64 * h, 64, F_WRITE, 0);
		make_avail(h);
	}
	for (uint16_t h = 0; h < 3; h++) {
		cr_assert_eq(vq_pop(&vq, &el), 1);
		cr_assert_eq(el.head, h);
	}
	cr_assert_eq(vq_get_base(&vq), 1);
	cr_assert_eq(vq_pop(&vq, &el), 0);
	cr_assert_eq(vq_push(&vq, 2, 20), 0);
	cr_assert_eq(vq_push(&vq, 0, 0), 0);
	cr_assert_eq(vq_push(&vq, 1, 10), 0);
	cr_assert_eq(used_idx(), 1);
	check_used(65534, 2, 20);
	check_used(65535, 0, 0);
	check_used(0, 1, 10);
}

Test(virtq, full_ring_of_num_entries)
{
	start(false);
	for (uint16_t h = 0; h < NUM; h++) {
		desc(h, DATA0, 8, 0, 0);
		make_avail(h);
	}
	for (uint16_t h = 0; h < NUM; h++)
		cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(vq_pop(&vq, &el), 0);
	cr_assert_not(vq.broken);
}

/* ---- notifications ---- */

Test(virtq, avail_event_written)
{
	start(true);
	vq_set_base(&vq, 40);
	drv_idx = 40;
	avail->idx = htole16(40);
	cr_assert_eq(vq_pop(&vq, &el), 0);
	cr_assert_eq(avail_event_get(), 40, "empty pop asks for a kick at the next entry");
	desc(0, DATA0, 8, 0, 0);
	desc(1, DATA0, 8, 0, 0);
	make_avail(0);
	make_avail(1);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(avail_event_get(), 41);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(avail_event_get(), 42);
}

Test(virtq, no_avail_event_without_event_idx)
{
	start(false);
	*(uint16_t *)(void *)&used->ring[NUM] = htole16(777);
	desc(0, DATA0, 8, 0, 0);
	make_avail(0);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(vq_pop(&vq, &el), 0);
	cr_assert_eq(avail_event_get(), 777);
}

/* A polling device turns kicks off: without EVENT_IDX by VRING_USED_F_NO_NOTIFY. */
Test(virtq, kicks_off_sets_no_notify)
{
	start(false);
	cr_assert_eq(le16toh(used->flags), 0);
	vq_kicks(&vq, false);
	cr_assert_eq(le16toh(used->flags), VRING_USED_F_NO_NOTIFY);
	vq_kicks(&vq, true);
	cr_assert_eq(le16toh(used->flags), 0);
	/* a worker that died polling left NO_NOTIFY: the next one starts with kicks on */
	vq_kicks(&vq, false);
	start(false);
	cr_assert_eq(le16toh(used->flags), 0, "a new setup must clear a dead poller's NO_NOTIFY");
}

/* Under EVENT_IDX, kicks off: avail_event goes one behind the next entry (no entry the driver
 * adds crosses it, so it never kicks) and stays there while chains are popped; on: it asks
 * for the next entry again. */
Test(virtq, kicks_off_freezes_avail_event)
{
	start(true);
	cr_assert_eq(vq_pop(&vq, &el), 0);
	cr_assert_eq(avail_event_get(), 0);
	vq_kicks(&vq, false);
	cr_assert_eq(avail_event_get(), 0xffff);
	cr_assert_not(vring_need_event(avail_event_get(), 1, 0), "the driver would still kick");
	for (uint16_t h = 0; h < 3; h++) {
		desc(h, DATA0, 8, 0, 0);
		make_avail(h);
		cr_assert(vq_avail_pending(&vq));
		cr_assert_eq(vq_pop(&vq, &el), 1);
	}
	cr_assert_not(vq_avail_pending(&vq));
	cr_assert_eq(vq_pop(&vq, &el), 0);
	cr_assert_eq(avail_event_get(), 0xffff, "avail_event moved while kicks were off");
	cr_assert_eq(le16toh(used->flags), 0, "NO_NOTIFY is not the EVENT_IDX way");
	vq_kicks(&vq, true);
	cr_assert_eq(avail_event_get(), 3);
}

Test(virtq, avail_pending_broken_or_unready)
{
	cr_assert_not(vq_avail_pending(&vq), "a queue never set up has nothing pending");
	start(false);
	desc(0, DATA0, 8, 0, 0);
	make_avail(0);
	cr_assert(vq_avail_pending(&vq));
	vq_break(&vq, "test");
	cr_assert_not(vq_avail_pending(&vq));
	vq_kicks(&vq, false);
	cr_assert_eq(le16toh(used->flags), 0, "a broken queue's ring is not written");
}

static void pop_n(unsigned n)
{
	for (uint16_t h = 0; h < n; h++) {
		desc(h, DATA0, 8, F_WRITE, 0);
		make_avail(h);
		cr_assert_eq(vq_pop(&vq, &el), 1);
	}
}

Test(virtq, event_idx_notify)
{
	start(true);
	pop_n(6);
	cr_assert_eq(vq_push(&vq, 0, 0), 0);                   /* used 1 */
	used_event_set(50);
	cr_assert(vq_should_notify(&vq), "the first notification is sent whatever used_event says");
	used_event_set(0);
	cr_assert_not(vq_should_notify(&vq), "nothing pushed since");
	cr_assert_eq(vq_push(&vq, 1, 0), 0);                   /* used 2 */
	cr_assert_not(vq_should_notify(&vq), "used_event 0 already passed");
	used_event_set(2);
	cr_assert_eq(vq_push(&vq, 2, 0), 0);                   /* used 3 */
	cr_assert(vq_should_notify(&vq), "crossed used_event 2");
	used_event_set(5);
	cr_assert_eq(vq_push(&vq, 3, 0), 0);                   /* used 4 */
	cr_assert_not(vq_should_notify(&vq), "used_event 5 not reached");
	cr_assert_eq(vq_push(&vq, 4, 0), 0);                   /* used 5 */
	cr_assert_eq(vq_push(&vq, 5, 0), 0);                   /* used 6 */
	cr_assert(vq_should_notify(&vq), "a batch that crosses used_event 5");
}

Test(virtq, event_idx_notify_wraps)
{
	used->idx = htole16(65534);
	start(true);
	vq_set_base(&vq, 65534);
	drv_idx = 65534;
	pop_n(4);
	cr_assert_eq(vq_push(&vq, 0, 0), 0);                   /* used 65535 */
	used_event_set(65534);
	cr_assert(vq_should_notify(&vq));
	used_event_set(65535);
	cr_assert_eq(vq_push(&vq, 1, 0), 0);                   /* used 0 */
	cr_assert(vq_should_notify(&vq), "crossed 65535 while wrapping");
	cr_assert_eq(vq_push(&vq, 2, 0), 0);                   /* used 1 */
	cr_assert_not(vq_should_notify(&vq), "65535 already passed");
	used_event_set(1);
	cr_assert_eq(vq_push(&vq, 3, 0), 0);                   /* used 2 */
	cr_assert(vq_should_notify(&vq));
}

Test(virtq, no_interrupt_flag)
{
	start(false);
	pop_n(2);
	avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	cr_assert_eq(vq_push(&vq, 0, 0), 0);
	cr_assert_not(vq_should_notify(&vq));
	avail->flags = 0;
	cr_assert_eq(vq_push(&vq, 1, 0), 0);
	cr_assert(vq_should_notify(&vq));
}

Test(virtq, push_of_head_not_in_flight)
{
	start(false);
	pop_n(1);
	cr_assert_eq(vq_push(&vq, 1, 0), -EINVAL);
	cr_assert_eq(vq_push(&vq, NUM, 0), -EINVAL);
	cr_assert_eq(vq_push(&vq, 0xffff, 0), -EINVAL);
	cr_assert_eq(used_idx(), 0);
	cr_assert_not(vq.broken, "a caller's mistake is not the guest's");
	cr_assert_eq(vq_push(&vq, 0, 0), 0);
}

/* ---- hostile drivers: each breaks the queue ---- */

Test(virtq, head_out_of_range)
{
	start(false);
	make_avail(NUM);
	expect_broken("head 8 >= queue size 8");
}

Test(virtq, next_out_of_range)
{
	start(false);
	desc(0, DATA0, 8, F_NEXT, NUM);
	make_avail(0);
	expect_broken("next 8 >= 8");
}

Test(virtq, loop_of_two)
{
	start(false);
	desc(1, DATA0, 8, F_NEXT, 4);
	desc(4, DATA0, 8, F_NEXT, 1);
	make_avail(1);
	expect_broken("chain longer than 8");
}

Test(virtq, chain_longer_than_num)
{
	start(false);
	el.iov_cap = 16;
	for (unsigned i = 0; i < NUM; i++)
		desc(i, DATA0 + 8 * i, 8, F_NEXT, (uint16_t)((i + 1) % NUM));
	make_avail(0);
	expect_broken("chain longer than 8");
}

Test(virtq, buffer_partly_outside_ram)
{
	start(false);
	desc(0, DATA0, 8, F_NEXT, 1);
	desc(1, R0_GPA + R0_SIZE - 8, 16, F_WRITE, 0);
	make_avail(0);
	expect_broken("outside guest RAM");
}

Test(virtq, buffer_in_the_gap)
{
	start(false);
	desc(0, R0_GPA + R0_SIZE + 0x100, 8, 0, 0);
	make_avail(0);
	expect_broken("outside guest RAM");
}

Test(virtq, buffer_spanning_two_regions)
{
	start(false);
	/* regions 1 and 2 are adjacent in guest-physical space but not in our address space */
	desc(0, R2_GPA - 8, 16, 0, 0);
	make_avail(0);
	expect_broken("outside guest RAM");
}

Test(virtq, buffer_address_overflows)
{
	start(false);
	/* addr + len wraps to a small number: a naive "addr >= start && addr + len <= end"
	 * check would accept it */
	desc(0, UINT64_MAX - 4, 16, 0, 0);
	make_avail(0);
	expect_broken("outside guest RAM");
}

Test(virtq, indirect_len_not_multiple_of_16)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, 0, 0);
	desc(0, ITABLE, 24, F_IND, 0);
	make_avail(0);
	expect_broken("indirect table of 24 bytes");
}

Test(virtq, indirect_len_zero)
{
	start(false);
	desc(0, ITABLE, 0, F_IND, 0);
	make_avail(0);
	expect_broken("indirect table of 0 bytes");
}

Test(virtq, indirect_too_long)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, 0, 0);
	desc(0, ITABLE, (VQ_MAX_INDIRECT + 1) * 16, F_IND, 0);   /* inside RAM, just too long */
	make_avail(0);
	expect_broken("indirect table of 16400 bytes");
}

Test(virtq, indirect_nested)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, F_NEXT, 1);
	put_desc(ITABLE, 1, ITABLE + 0x100, 16, F_IND, 0);
	put_desc(ITABLE + 0x100, 0, DATA0, 8, 0, 0);
	desc(0, ITABLE, 32, F_IND, 0);
	make_avail(0);
	expect_broken("nested indirect");
}

Test(virtq, indirect_with_next)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, 0, 0);
	desc(0, ITABLE, 16, F_IND | F_NEXT, 1);
	desc(1, DATA0, 8, 0, 0);
	make_avail(0);
	expect_broken("indirect descriptor with NEXT");
}

Test(virtq, indirect_after_direct)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, 0, 0);
	desc(0, DATA0, 8, F_NEXT, 1);
	desc(1, ITABLE, 16, F_IND, 0);
	make_avail(0);
	expect_broken("indirect descriptor not at the head");
}

Test(virtq, indirect_table_outside_ram)
{
	start(false);
	desc(0, R1_GPA + R1_SIZE - 16, 64, F_IND, 0);   /* runs into region 2: still not one region */
	make_avail(0);
	expect_broken("indirect table");
	cr_assert_not_null(strstr(read_log(), "outside guest RAM"));
}

Test(virtq, indirect_loop)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, F_NEXT, 1);
	put_desc(ITABLE, 1, DATA0, 8, F_NEXT, 0);
	desc(0, ITABLE, 32, F_IND, 0);
	make_avail(0);
	expect_broken("chain longer than 2");
}

Test(virtq, indirect_next_out_of_table)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, F_NEXT, 2);
	put_desc(ITABLE, 2, DATA0, 8, 0, 0);     /* in RAM, but past the table's end */
	desc(0, ITABLE, 32, F_IND, 0);
	make_avail(0);
	expect_broken("next 2 >= 2");
}

Test(virtq, indirect_buffer_outside_ram)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, F_NEXT, 1);
	put_desc(ITABLE, 1, R1_GPA + R1_SIZE + R2_SIZE - 4, 8, F_WRITE, 0);
	desc(0, ITABLE, 32, F_IND, 0);
	make_avail(0);
	expect_broken("outside guest RAM");
}

Test(virtq, writable_before_readable)
{
	start(false);
	desc(0, DATA0, 8, F_WRITE | F_NEXT, 1);
	desc(1, DATA0 + 8, 8, 0, 0);
	make_avail(0);
	expect_broken("readable buffer after a writable one");
}

Test(virtq, writable_before_readable_indirect)
{
	start(false);
	put_desc(ITABLE, 0, DATA0, 8, F_NEXT, 1);
	put_desc(ITABLE, 1, DATA1, 8, F_WRITE | F_NEXT, 2);
	put_desc(ITABLE, 2, DATA0 + 8, 8, 0, 0);
	desc(0, ITABLE, 48, F_IND, 0);
	make_avail(0);
	expect_broken("readable buffer after a writable one");
}

Test(virtq, same_head_twice)
{
	start(false);
	desc(3, DATA0, 8, 0, 0);
	make_avail(3);
	make_avail(3);
	cr_assert_eq(vq_pop(&vq, &el), 1);
	cr_assert_eq(el.head, 3);
	expect_broken("head 3 made available while in flight");
}

Test(virtq, avail_idx_jumps)
{
	start(false);
	desc(0, DATA0, 8, 0, 0);
	make_avail(0);
	avail->idx = htole16(NUM + 1);
	expect_broken("avail idx is 9 entries ahead");
}

Test(virtq, avail_idx_jumps_after_wrap)
{
	start(false);
	vq_set_base(&vq, 65530);
	avail->idx = htole16(3);    /* 9 ahead of 65530 across the wrap */
	expect_broken("avail idx is 9 entries ahead");
}

Test(virtq, more_segments_than_iov_cap)
{
	start(false);
	el.iov_cap = 2;
	desc(0, DATA0, 8, F_NEXT, 1);
	desc(1, DATA0 + 8, 8, F_NEXT, 2);
	desc(2, DATA1, 8, F_WRITE, 0);
	make_avail(0);
	expect_broken("more than 2 segments");
}

Test(virtq, break_logs_once)
{
	start(false);
	vq_break(&vq, "reason %d", 1);
	vq_break(&vq, "reason %d", 2);
	cr_assert(vq.broken);
	cr_assert_eq(count_lines(read_log()), 1);
	cr_assert_not_null(strstr(read_log(), "test q0"));
	cr_assert_not_null(strstr(read_log(), "reason 1"));
	cr_assert_eq(vq_pop(&vq, &el), -EIO);
	/* a reset (teardown + setup) brings the queue back; the rate limit survives it, so a
	 * guest that breaks it again at once gets no second line */
	vq_teardown(&vq);
	start(false);
	cr_assert_not(vq.broken);
	make_avail(NUM);
	cr_assert_eq(vq_pop(&vq, &el), -EIO);
	cr_assert_eq(count_lines(read_log()), 1);
}

/* ---- inflight tracking and restart ---- */

/* heads 6, 1, 3 popped in that order, so counter order differs from index order */
static const uint16_t heads[3] = { 6, 1, 3 };

static void pop_three(void)
{
	for (unsigned i = 0; i < 3; i++) {
		desc(heads[i], DATA0 + 0x100 * heads[i], 64, F_NEXT, 0);
		desc(0, DATA1, 16, F_WRITE, 0);   /* shared tail: only heads are tracked */
		make_avail(heads[i]);
	}
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(vq_pop(&vq, &el), 1);
		cr_assert_eq(el.head, heads[i]);
	}
}

/* A new backend process: fresh struct vq over the same rings and area, in the order the
 * vhost-user dispatcher uses after a restart. */
static int restart(struct vq *q)
{
	start_at(q, false);
	vq_set_base(q, used_idx());   /* what a frontend of a dead backend sends */
	return vq_set_inflight(q, area, false);
}

static void expect_pop(struct vq *q, uint16_t head)
{
	cr_assert_eq(vq_pop(q, &el), 1);
	cr_assert_eq(el.head, head);
	cr_assert_eq(el.out_num, 1);
	cr_assert_eq(el.in_num, 1);
	check_iov(0, DATA0 + 0x100 * head, 64);
	check_iov(1, DATA1, 16);
}

Test(virtq, inflight_fresh_init)
{
	memset(area, 0xaa, vq_inflight_queue_size(NUM));
	used->idx = htole16(300);
	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	cr_assert_eq(area->version, 1);
	cr_assert_eq(area->desc_num, NUM);
	cr_assert_eq(area->used_idx, 300);
	for (unsigned i = 0; i < NUM; i++)
		cr_assert_eq(area->desc[i].inflight, 0);
	cr_assert_eq(vq.resubmit_nr, 0);
}

Test(virtq, inflight_zero_area_is_fresh)
{
	start(false);
	vq_set_base(&vq, 0);
	cr_assert_eq(vq_set_inflight(&vq, area, false), 0);
	cr_assert_eq(area->version, 1);
	cr_assert_eq(area->desc_num, NUM);
	cr_assert_not(vq.broken);
}

Test(virtq, inflight_records_pop_and_push)
{
	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	pop_three();
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(area->desc[heads[i]].inflight, 1);
		cr_assert_eq(area->desc[heads[i]].counter, i + 1);
	}
	cr_assert_eq(vq_push(&vq, 1, 5), 0);
	cr_assert_eq(area->desc[1].inflight, 0);
	cr_assert_eq(area->last_batch_head, 1);
	cr_assert_eq(area->used_idx, 1);
	cr_assert_eq(used_idx(), 1);
}

Test(virtq, restart_resubmits_in_order)
{
	struct vq q2 = { 0 };

	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	pop_three();
	cr_assert_eq(vq_push(&vq, 1, 5), 0);
	/* the backend dies here; the driver offers one more request meanwhile */
	desc(5, DATA0 + 0x500, 64, F_NEXT, 0);
	make_avail(5);
	cr_assert_eq(restart(&q2), 0);
	cr_assert_eq(vq_get_base(&q2), 3, "used 1 + 2 resubmitted: avail 0..2 are not new");
	cr_assert_eq(vq_push(&q2, 6, 0), -EINVAL, "not handed out again yet");
	expect_pop(&q2, 6);
	expect_pop(&q2, 3);
	expect_pop(&q2, 5);
	cr_assert_eq(vq_pop(&q2, &el), 0, "the old avail entries are not consumed twice");
	cr_assert_not(q2.broken);
	cr_assert_gt(area->desc[5].counter, area->desc[3].counter, "order continues");
	cr_assert_eq(vq_push(&q2, 3, 7), 0);
	check_used(1, 3, 7);
	cr_assert_eq(vq_push(&q2, 6, 8), 0);
	cr_assert_eq(vq_push(&q2, 5, 9), 0);
	cr_assert_eq(used_idx(), 4);
	cr_assert_eq(area->used_idx, 4);
	for (unsigned i = 0; i < NUM; i++)
		cr_assert_eq(area->desc[i].inflight, 0);
	vq_teardown(&q2);
}

Test(virtq, restart_with_nothing_in_flight)
{
	struct vq q2 = { 0 };

	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	pop_three();
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(vq_push(&vq, heads[i], 0), 0);
	desc(5, DATA0 + 0x500, 64, F_NEXT, 0);
	make_avail(5);
	cr_assert_eq(restart(&q2), 0);
	cr_assert_eq(vq_get_base(&q2), 3);
	expect_pop(&q2, 5);
	cr_assert_eq(vq_pop(&q2, &el), 0);
	vq_teardown(&q2);
}

Test(virtq, restart_repairs_torn_batch)
{
	struct vq q2 = { 0 };

	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	pop_three();
	cr_assert_eq(vq_push(&vq, 1, 0), 0);
	cr_assert_eq(vq_push(&vq, 3, 0), 0);
	/* the backend died between publishing used->idx for head 3 and clearing its record */
	area->desc[3].inflight = 1;
	area->used_idx = 1;
	cr_assert_eq(area->last_batch_head, 3);
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(restart(&q2), 0);
	cr_assert_eq(area->desc[3].inflight, 0, "the guest has head 3 back");
	cr_assert_eq(area->used_idx, 2);
	cr_assert_eq(vq_get_base(&q2), 3);
	expect_pop(&q2, 6);
	cr_assert_eq(vq_pop(&q2, &el), 0, "head 3 is not resubmitted");
	vq_teardown(&q2);
}

Test(virtq, restart_before_publish_keeps_head)
{
	struct vq q2 = { 0 };

	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	pop_three();
	cr_assert_eq(vq_push(&vq, 1, 0), 0);
	/* died after noting head 3 as the batch head but before used->idx moved: it is
	 * still in flight */
	area->last_batch_head = 3;
	cr_assert_eq(restart(&q2), 0);
	cr_assert_eq(area->desc[3].inflight, 1);
	expect_pop(&q2, 6);
	expect_pop(&q2, 3);
	cr_assert_eq(vq_pop(&q2, &el), 0);
	vq_teardown(&q2);
}

Test(virtq, restart_with_wrapped_indices)
{
	struct vq q2 = { 0 };

	used->idx = htole16(65535);
	start(false);
	vq_set_base(&vq, 65535);
	drv_idx = 65535;
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	pop_three();
	cr_assert_eq(vq_push(&vq, 6, 0), 0);
	cr_assert_eq(restart(&q2), 0);
	cr_assert_eq(vq_get_base(&q2), 2);
	expect_pop(&q2, 1);
	expect_pop(&q2, 3);
	cr_assert_eq(vq_pop(&q2, &el), 0);
	vq_teardown(&q2);
}

static void expect_bad_area(void)
{
	struct vq q2 = { 0 };

	cr_assert_eq(restart(&q2), -EINVAL);
	cr_assert(q2.broken);
	cr_assert_eq(vq_pop(&q2, &el), -EIO);
	cr_assert_not_null(strstr(read_log(), "inflight area"));
	vq_teardown(&q2);
}

Test(virtq, inflight_area_wrong_size)
{
	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	area->desc_num = NUM * 2;
	expect_bad_area();
}

Test(virtq, inflight_area_wrong_version)
{
	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	area->version = 7;
	expect_bad_area();
}

Test(virtq, inflight_area_bad_batch_head)
{
	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	area->last_batch_head = NUM;
	expect_bad_area();
}

Test(virtq, inflight_area_bad_flag)
{
	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	area->desc[2].inflight = 9;
	expect_bad_area();
}

Test(virtq, restart_with_a_chain_now_broken)
{
	struct vq q2 = { 0 };

	start(false);
	cr_assert_eq(vq_set_inflight(&vq, area, true), 0);
	pop_three();
	/* the guest rewrites an in-flight head's descriptor while the backend is down */
	desc(6, DATA0, 8, F_NEXT, NUM);
	cr_assert_eq(restart(&q2), 0);
	cr_assert_eq(vq_pop(&q2, &el), -EIO);
	cr_assert(q2.broken);
	cr_assert_eq(vq_pop(&q2, &el), -EIO);
	cr_assert_not_null(strstr(read_log(), "next 8 >= 8"));
	vq_teardown(&q2);
}

Test(virtq, set_inflight_needs_setup)
{
	cr_assert_eq(vq_pop(&vq, &el), 0, "a queue not set up has nothing");
	cr_assert_eq(vq_push(&vq, 0, 0), -EIO);
	cr_assert_not(vq_should_notify(&vq));
	cr_assert_eq(vq_set_inflight(&vq, area, true), -EINVAL);
	start(false);
	cr_assert_eq(vq_set_inflight(&vq, NULL, true), -EINVAL);
}
