/* Fuzz the typed IPC layer: arbitrary datagrams (header + payload) through ipc_recv and every
 * decoder, as a lying peer would send them. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ipc_peer any = { "fuzz", ~0u };
	static struct ipc_msg msg;
	struct core_config c;
	struct core_config_fds f;
	struct vm_exit_info e;
	int sv[2];

	if (size > IPC_MAX_PAYLOAD + 64 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return 0;
	if (send(sv[0], data, size, 0) >= 0 && ipc_recv(sv[1], &any, &msg) == 1) {
		if (ipc_core_config_decode(&msg, &c, &f) == 0) {
			if (f.kernel >= 0) close(f.kernel);
			if (f.initrd >= 0) close(f.initrd);
			if (f.mem >= 0) close(f.mem);
		}
		ipc_vm_exit_decode(&msg, &e);
		ipc_msg_close_fds(&msg);
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	struct { struct ipc_hdr h; struct core_config c; } m = {
		{ IPC_CORE_CONFIG, sizeof(struct core_config) },
		{ .ncpus = 2, .mem_size = 256 << 20 },
	};
	if (i % 2 || cap < sizeof(m))
		return 0;
	memcpy(buf, &m, sizeof(m));
	return sizeof(m);
}
