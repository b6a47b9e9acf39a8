/* bulkhead-vsock's pure parts (dev-vsock/conn.c, opts.c): packet checks, the CONNECT line,
 * credit accounting both ways, the per-connection ring, the connection table, the command
 * line. No socket, no ring. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vsock.h"

#define CID 42

static struct vsock_pkt pkt(uint16_t op, uint32_t len)
{
	return (struct vsock_pkt){ .src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = 1000,
				   .dst_port = 5000, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM,
				   .op = op, .buf_alloc = 65536 };
}

Test(vsock, header_roundtrip_is_little_endian)
{
	struct vsock_pkt p = pkt(VIRTIO_VSOCK_OP_RW, 0x01020304), q;
	struct virtio_vsock_hdr h;
	uint8_t raw[VSOCK_HDR_LEN];

	p.fwd_cnt = 0xa0b0c0d0;
	vsock_hdr_encode(&p, &h);
	memcpy(raw, &h, sizeof(raw));
	cr_assert_eq(raw[0], CID);                      /* src_cid, le64 at 0 */
	cr_assert_eq(raw[8], VSOCK_HOST_CID);           /* dst_cid at 8 */
	cr_assert_eq(raw[24], 0x04);                    /* len at 24, low byte first */
	cr_assert_eq(raw[28], VIRTIO_VSOCK_TYPE_STREAM);
	cr_assert_eq(raw[30], VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(raw[40], 0xd0);                    /* fwd_cnt at 40 */
	vsock_hdr_decode(&h, &q);
	cr_assert_eq(memcmp(&p, &q, sizeof(p)), 0);
}

Test(vsock, packet_checks)
{
	struct vsock_pkt p = pkt(VIRTIO_VSOCK_OP_RW, 100);

	cr_assert_eq(vsock_pkt_check(&p, CID, 100), VSOCK_OK);
	cr_assert_eq(vsock_pkt_check(&p, CID, 99), VSOCK_BAD_LEN, "len beyond the chain");
	p.len = VSOCK_PKT_MAX + 1;
	cr_assert_eq(vsock_pkt_check(&p, CID, 1u << 20), VSOCK_BAD_LEN, "len beyond a packet");
	p.len = 0;
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_BAD_LEN, "empty RW");
	p = pkt(VIRTIO_VSOCK_OP_REQUEST, 4);
	cr_assert_eq(vsock_pkt_check(&p, CID, 4), VSOCK_BAD_LEN, "payload on a REQUEST");
	p = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_OK);
	p.src_cid = CID + 1;
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_BAD_CID, "spoofed source");
	p = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	p.dst_cid = 7;
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_BAD_CID, "not to the host");
	p = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	p.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_BAD_TYPE);
	p = pkt(99, 0);
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_BAD_OP);
	p = pkt(VIRTIO_VSOCK_OP_INVALID, 0);
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_BAD_OP);
	p = pkt(VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	p.flags = 3;
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_OK);
	p.flags = 4;
	cr_assert_eq(vsock_pkt_check(&p, CID, 0), VSOCK_BAD_FLAGS);
}

static int line(const char *s, uint32_t *port, size_t *len)
{
	return vsock_connect_line(s, strlen(s), port, len);
}

Test(vsock, connect_line)
{
	uint32_t port = 0;
	size_t len = 0;

	cr_assert_eq(line("CONNECT 1234\n", &port, &len), 1);
	cr_assert_eq(port, 1234);
	cr_assert_eq(len, 13);
	cr_assert_eq(line("CONNECT 52\nhello", &port, &len), 1, "data after the line stays");
	cr_assert_eq(len, 11);
	cr_assert_eq(line("CONNECT 4294967295\n", &port, &len), 1);
	cr_assert_eq(port, 4294967295u);
	cr_assert_eq(line("CONN", &port, &len), 0, "a prefix waits for more");
	cr_assert_eq(line("CONNECT 12", &port, &len), 0);
	cr_assert_eq(line("", &port, &len), 0);
	cr_assert_eq(line("GET / HTTP/1.0\r\n", &port, &len), -EINVAL, "junk");
	cr_assert_eq(line("X", &port, &len), -EINVAL, "junk from the first byte");
	cr_assert_eq(line("CONNECT \n", &port, &len), -EINVAL, "no port");
	cr_assert_eq(line("CONNECT 12a\n", &port, &len), -EINVAL);
	cr_assert_eq(line("CONNECT -1\n", &port, &len), -EINVAL);
	cr_assert_eq(line("CONNECT 4294967296\n", &port, &len), -EINVAL, "out of range");
	cr_assert_eq(line("CONNECT 00000000001\n", &port, &len), -EINVAL, "11 digits");
	cr_assert_eq(line("CONNECT 1 \n", &port, &len), -EINVAL);
}

Test(vsock, ring_wraps_and_frees)
{
	struct vsock_buf b = { 0 };
	uint8_t src[100], out[100];
	struct iovec in[2] = { { src, 30 }, { src + 30, 70 } }, v[2];

	for (int i = 0; i < 100; i++)
		src[i] = (uint8_t)i;
	cr_assert_eq(vsock_buf_put(&b, 64, in, 2, 0, 50), 0);
	cr_assert_eq(b.len, 50);
	cr_assert_eq(vsock_buf_put(&b, 64, in, 2, 50, 20), -ENOSPC, "beyond the cap");
	vsock_buf_drop(&b, 40);
	cr_assert_eq(vsock_buf_put(&b, 64, in, 2, 50, 50), 0, "wraps");
	cr_assert_eq(vsock_buf_iov(&b, v), 2);
	memcpy(out, v[0].iov_base, v[0].iov_len);
	memcpy(out + v[0].iov_len, v[1].iov_base, v[1].iov_len);
	cr_assert_eq(v[0].iov_len + v[1].iov_len, 60);
	cr_assert_arr_eq(out, src + 40, 60);
	vsock_buf_drop(&b, 60);
	cr_assert_null(b.data, "an empty ring holds no memory");
	cr_assert_eq(vsock_buf_iov(&b, v), 0);
	cr_assert_eq(vsock_buf_put(&b, 64, in, 2, 90, 20), -EINVAL, "fewer bytes than asked");
	vsock_buf_free(&b);
}

Test(vsock, credit_towards_the_guest)
{
	struct vsock_conn c = { .peer_buf_alloc = 1000 };

	cr_assert_eq(vsock_peer_credit(&c), 1000);
	c.tx_cnt = 600;
	cr_assert_eq(vsock_peer_credit(&c), 400);
	c.peer_fwd_cnt = 500;
	cr_assert_eq(vsock_peer_credit(&c), 900);
	c.tx_cnt = 1500;
	cr_assert_eq(vsock_peer_credit(&c), 0, "window full");
	c.peer_buf_alloc = 0;
	cr_assert_eq(vsock_peer_credit(&c), 0, "zero buf_alloc: nothing");
	c = (struct vsock_conn){ .peer_buf_alloc = 100, .tx_cnt = 10, .peer_fwd_cnt = 20 };
	cr_assert_eq(vsock_peer_credit(&c), 0, "a guest claiming more than we sent gets none");
	/* the counters wrap at 2^32 */
	c = (struct vsock_conn){ .peer_buf_alloc = 1000, .tx_cnt = 100,
				 .peer_fwd_cnt = UINT32_MAX - 99 };
	cr_assert_eq(vsock_peer_credit(&c), 800);
}

Test(vsock, credit_from_the_guest)
{
	struct vsock_conn c = { 0 };
	struct vsock_pkt p = pkt(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);

	cr_assert(vsock_rx_fits(&c, 1000, 1000));
	cr_assert_not(vsock_rx_fits(&c, 1000, 1001));
	c.rx_cnt = 800;
	c.fwd_cnt = 100;
	cr_assert(vsock_rx_fits(&c, 1000, 300));
	cr_assert_not(vsock_rx_fits(&c, 1000, 301));
	c.rx_cnt = UINT32_MAX;          /* wrapping */
	c.fwd_cnt = UINT32_MAX - 10;
	cr_assert(vsock_rx_fits(&c, 1000, 990));
	cr_assert_not(vsock_rx_fits(&c, 1000, 991));
	/* the guest hears our fwd_cnt once half the window was used since it last did */
	c = (struct vsock_conn){ .fwd_cnt = 499 };
	cr_assert_not(vsock_credit_update_due(&c, 1000));
	c.fwd_cnt = 500;
	cr_assert(vsock_credit_update_due(&c, 1000));
	c.fwd_cnt_sent = 500;
	cr_assert_not(vsock_credit_update_due(&c, 1000));
	p.buf_alloc = 4096;
	p.fwd_cnt = 77;
	vsock_peer_update(&c, &p);
	cr_assert_eq(c.peer_buf_alloc, 4096);
	cr_assert_eq(c.peer_fwd_cnt, 77);
}

Test(vsock, table_limit_hash_and_ports)
{
	static struct vsock_table t;
	struct vsock_conn *c[4];

	vsock_table_init(&t, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_not_null(c[i] = vsock_conn_new(&t));
	cr_assert(vsock_table_full(&t));
	cr_assert_null(vsock_conn_new(&t), "the limit holds");
	cr_assert_eq(vsock_conn_hash(&t, c[0], 5000, 1000), 0);
	cr_assert_eq(vsock_conn_hash(&t, c[1], 5000, 1000), -EEXIST, "one pair, one connection");
	cr_assert_eq(vsock_conn_hash(&t, c[1], 5000, 1001), 0);
	cr_assert_eq(vsock_conn_find(&t, 5000, 1000), c[0]);
	cr_assert_eq(vsock_conn_find(&t, 5000, 1001), c[1]);
	cr_assert_null(vsock_conn_find(&t, 1000, 5000));
	cr_assert_eq(vsock_local_port(&t, 77), VSOCK_LOCAL_PORT_FIRST);
	cr_assert_eq(vsock_conn_hash(&t, c[2], VSOCK_LOCAL_PORT_FIRST + 1, 77), 0);
	cr_assert_eq(vsock_local_port(&t, 77), VSOCK_LOCAL_PORT_FIRST + 2, "a port in use is "
		     "skipped");
	vsock_conn_free(&t, c[0]);
	cr_assert_null(vsock_conn_find(&t, 5000, 1000));
	cr_assert_eq(vsock_conn_find(&t, 5000, 1001), c[1]);
	cr_assert_not(vsock_table_full(&t));
	cr_assert_not_null(c[3] = vsock_conn_new(&t), "a freed slot is usable again");
	cr_assert_eq(t.n, 3);
	vsock_conn_free(&t, c[1]);
	vsock_conn_free(&t, c[2]);
	vsock_conn_free(&t, c[3]);
	cr_assert_eq(t.n, 0);
	cr_assert_null(t.all);
}

static int parse(struct vsock_opts *o, char *err, const char *a, const char *b, const char *c,
		 const char *d)
{
	char *argv[] = { "bulkhead-vsock", (char *)a, (char *)b, (char *)c, (char *)d, NULL };
	int argc = 1;

	while (argv[argc])
		argc++;
	return vsock_opts_parse(o, argc, argv, err, 256);
}

Test(vsock, command_line)
{
	struct vsock_opts o;
	char err[256];

	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-dir-fd=4",
			   "--uds-name=vm.sock"), 0, "%s", err);
	cr_assert_eq(o.guest_cid, 3);
	cr_assert_eq(o.uds_dir_fd, 4);
	cr_assert_str_eq(o.uds_name, "vm.sock");
	cr_assert_eq(o.max_conns, VSOCK_CONNS_DEFAULT);
	cr_assert_eq(o.buf_alloc, VSOCK_BUF_ALLOC_DEFAULT);
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=4294967294", "--uds-path=/tmp/v.sock",
			   NULL), 0, "%s", err);
	cr_assert_eq(parse(&o, err, "--print-capabilities", NULL, NULL, NULL), 0);
	cr_assert_str_eq(vsock_capabilities, "{\"type\": \"vsock\"}");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=2", "--uds-path=/tmp/v", NULL),
		     -EINVAL, "CID 2 is the host's");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=4294967295", "--uds-path=/tmp/v",
			   NULL), -EINVAL, "VMADDR_CID_ANY");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-dir-fd=4",
			   "--uds-name=a/b"), -EINVAL, "a name with '/'");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-dir-fd=4",
			   "--uds-name=.."), -EINVAL);
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-path=/tmp/", NULL),
		     -EINVAL, "no name");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-dir-fd=4", NULL), -EINVAL,
		     "a directory without a name");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", NULL, NULL), -EINVAL);
	cr_assert_eq(parse(&o, err, "--guest-cid=3", "--uds-path=/tmp/v", NULL, NULL), -EINVAL,
		     "no vhost-user socket");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-path=/tmp/v",
			   "--max-conns=0"), -EINVAL);
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-path=/tmp/v",
			   "--buf-alloc=100"), -EINVAL);
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-dir-fd=3",
			   "--uds-name=v"), -EINVAL, "one fd named twice");
}

/* Kernel mode: an open /dev/vhost-vsock instead of the socket directory, never both. */
Test(vsock, command_line_kernel_mode)
{
	struct vsock_opts o;
	char err[256];

	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--vhost-fd=4", NULL), 0, "%s", err);
	cr_assert_eq(o.vhost_fd, 4);
	cr_assert_eq(o.uds_dir_fd, -1);
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--uds-path=/tmp/v", NULL), 0);
	cr_assert_eq(o.vhost_fd, -1);
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--vhost-fd=4", "--uds-path=/tmp/v"),
		     -EINVAL);
	cr_assert_str_eq(err, "--vhost-fd (kernel mode) excludes --uds-path, --uds-dir-fd and "
			 "--uds-name");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--vhost-fd=3", NULL), -EINVAL,
		     "one fd named twice");
	cr_assert_eq(parse(&o, err, "--fd=3", "--guest-cid=3", "--vhost-fd=x", NULL), -EINVAL);
}
