// SPDX-License-Identifier: MIT
/*
 * bench_sink - the C consumers of the benchmark streams (stream.h).
 *
 *   bench_sink ring bulk|records --bytes N --ring R --source PATH
 *       create a public element with an R-byte inbound ring, start PATH
 *       (bench_source) as its driver-side producer, and consume N bytes
 *       zero-copy: xbuf_read_begin() / checksum in place / xbuf_read_end()
 *   bench_sink resident bulk|records --bytes N --size S
 *       the same checksum loop over an S-byte buffer already in memory,
 *       read again and again until N bytes: the machine's bound
 *
 * Prints one JSON line on stdout: {"bytes":B,"seconds":S,"ok":true|false,...};
 * exits 1 if the checksum is not the producer's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "xbuf.h"
#include "stream.h"

extern char **environ;

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_sink: %s: %s\n", what, strerror(err));
	return 1;
}

static int report(double seconds, unsigned long long bytes, const struct checksum *got,
		  const struct checksum *want)
{
	int ok = got->sum == want->sum && got->acc == want->acc && got->lat == want->lat;

	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"ok\":%s", bytes, seconds, ok ? "true" : "false");
	checksum_print(stdout, ",", got);
	printf("}\n");
	if (!ok)
		fprintf(stderr, "bench_sink: checksum mismatch\n");
	return ok ? 0 : 1;
}

static int consume_ring(struct stream *st, unsigned long long bytes, size_t ring, const char *source)
{
	size_t unit = st->kind == STREAM_BULK ? 4 : REC_SIZE;
	struct checksum got = { 0, 0, 0 }, want;
	unsigned long long done = 0;
	char name[64], dest[80], nbytes[32];
	double t0 = 0;
	pid_t pid;
	int fd, status;

	snprintf(name, sizeof(name), "bench-sink-%d", (int)getpid());
	fd = xbuf_create(ring, 0, XBUF_CLONE_PUBLIC, "/%s", name);
	if (fd < 0)
		return fail("xbuf_create", -fd);
	snprintf(dest, sizeof(dest), "xbuf:%s", name);
	snprintf(nbytes, sizeof(nbytes), "%llu", bytes);
	char *argv[] = { (char *)source, st->kind == STREAM_BULK ? "bulk" : "records",
			 dest, "--bytes", nbytes, NULL };
	posix_spawn_file_actions_t fa;

	posix_spawn_file_actions_init(&fa);	/* its checksum line: we compute our own */
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, source, &fa, NULL, argv, environ))
		return fail(source, errno);
	posix_spawn_file_actions_destroy(&fa);

	while (done < bytes) {
		const void *p;
		ssize_t n = xbuf_read_begin(fd, ring, XBUF_NONBLOCK, &p);
		size_t whole;

		if (n == -EAGAIN) {
			int ret = xbuf_poll(fd, XBUF_POLLIN, unit, -1);

			if (ret < 0)
				return fail("xbuf_poll", -ret);
			continue;
		}
		if (n < 0)
			return fail("xbuf_read_begin", (int)-n);
		if (!t0)
			t0 = now_s();
		whole = (size_t)n - (size_t)n % unit;
		checksum_add(&got, st->kind, p, whole);
		xbuf_read_end(fd, whole);
		done += whole;
		if (!whole && xbuf_poll(fd, XBUF_POLLIN, unit, -1) < 0)
			return fail("xbuf_poll", EPIPE);
	}
	t0 = now_s() - t0;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return fail("bench_source failed", EIO);
	xbuf_close(fd);
	want = stream_expect(st, done);
	return report(t0, done, &got, &want);
}

static int consume_resident(struct stream *st, unsigned long long bytes, size_t size)
{
	struct checksum got = { 0, 0, 0 }, want;
	size_t chunks = size / st->chunk ? size / st->chunk : 1;
	unsigned long long done = 0, j = 0;
	unsigned char *buf = aligned_alloc(4096, chunks * st->chunk);
	double t0;

	if (!buf)
		return fail("aligned_alloc", ENOMEM);
	for (size_t i = 0; i < chunks; i++)
		memcpy(buf + i * st->chunk, stream_chunk(st, i), st->chunk);
	/* The buffer holds chunks 0..chunks-1; it is read over and over. */
	t0 = now_s();
	while (done < bytes) {
		checksum_add(&got, st->kind, buf + (j % chunks) * st->chunk, st->chunk);
		done += st->chunk;
		j++;
	}
	t0 = now_s() - t0;
	want = (struct checksum){ 0, 0, 0 };
	for (unsigned long long k = 0; k < j; k++)
		checksum_add(&want, st->kind, stream_chunk(st, k % chunks), st->chunk);
	free(buf);
	return report(t0, done, &got, &want);
}

int main(int argc, char **argv)
{
	unsigned long long bytes = 0, ring = 1 << 21, size = 1 << 21;
	const char *source = NULL;
	struct stream st;

	if (argc < 3)
		goto usage;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--bytes"))
			bytes = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--ring"))
			ring = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--size"))
			size = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--source"))
			source = argv[i + 1];
		else
			goto usage;
	}
	if (!bytes || stream_init(&st, strcmp(argv[2], "records") ? STREAM_BULK : STREAM_RECORDS))
		goto usage;
	if (!strcmp(argv[1], "ring") && source)
		return consume_ring(&st, bytes, ring, source);
	if (!strcmp(argv[1], "resident"))
		return consume_resident(&st, bytes, size);
usage:
	fprintf(stderr, "usage: bench_sink ring bulk|records --bytes N --ring R --source PATH\n"
			"       bench_sink resident bulk|records --bytes N --size S\n");
	return 2;
}
