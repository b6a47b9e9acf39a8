/* Command-line words of the probes ("key=value", numbers with 0x and K/M/G). Pure code with no
 * I/O, so the host-side driver test links it as it is. */
#include "probe.h"

static const char *cmdline = "";

void probe_set_cmdline(const char *cl)
{
	cmdline = cl ? cl : "";
}

const char *probe_arg_nth(const char *key, unsigned nth, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while (*p) {
		const char *w;
		size_t wlen;

		while (*p == ' ')
			p++;
		w = p;
		while (*p && *p != ' ')
			p++;
		wlen = (size_t)(p - w);
		if (wlen > klen && !memcmp(w, key, klen) && w[klen] == '=' && !nth--) {
			*len = wlen - klen - 1;
			return w + klen + 1;
		}
	}
	return NULL;
}

const char *probe_arg(const char *key, size_t *len)
{
	return probe_arg_nth(key, 0, len);
}

bool probe_arg_is(const char *key, const char *value)
{
	size_t len;
	const char *v = probe_arg(key, &len);

	return v && len == strlen(value) && !memcmp(v, value, len);
}

static int digit(char c, unsigned base)
{
	int d = -1;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	return d >= 0 && (unsigned)d < base ? d : -1;
}

size_t probe_parse_u64(const char *v, size_t len, uint64_t *out)
{
	size_t i = 0, start;
	unsigned base = 10;
	uint64_t n = 0;

	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		base = 16, i = 2;
	start = i;
	for (; i < len && digit(v[i], base) >= 0; i++)
		n = n * base + (uint64_t)digit(v[i], base);
	if (i == start)
		return 0;
	if (i < len) {
		const char *sfx = "KMG";

		for (int s = 0; s < 3; s++)
			if (v[i] == sfx[s] || v[i] == sfx[s] + 32) {
				n <<= 10 * (s + 1);
				i++;
				break;
			}
	}
	*out = n;
	return i;
}

bool probe_arg_u64(const char *key, uint64_t *out)
{
	size_t len;
	const char *v = probe_arg(key, &len);

	return v && len && probe_parse_u64(v, len, out) == len;
}
