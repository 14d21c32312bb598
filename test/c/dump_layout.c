/* SPDX-License-Identifier: MIT */
/*
 * dump_layout - print, as one JSON object, sizeof and offsetof of every C
 * struct and field the TypeScript binding reads (src/layout.ts), and the
 * reserved element names. test/ts/layout.test.ts compares the two. Not a
 * test of its own: build.zig builds it beside the tests, nothing runs it
 * but the TypeScript tests.
 *
 * A member of struct type is listed field by field under its member
 * designator ("ring[1].data_size"), as offsetof() takes it.
 */
#include <stddef.h>
#include <stdio.h>
#include "xbuf.h"
#include "xbuf/abi.h"
#include "xbuf/kernel.h"
#include "xbuf/latmus.h"

static const char *sep;

static void begin(const char *name, size_t size)
{
	printf("%s\n    \"%s\": { \"size\": %zu, \"offsets\": {", sep, name, size);
	sep = "";
}

static void field(const char *member, size_t off)
{
	printf("%s \"%s\": %zu", sep, member, off);
	sep = ",";
}

static void end(void)
{
	printf(" } }");
	sep = ",";
}

#define STRUCT(s)	begin(#s, sizeof(struct s))
/* Field m of struct s, within its member P ("ring[1]." or nothing): offsetof(struct s, P m). */
#define FIELD(s, P, m)	field(#P #m, offsetof(struct s, P m))

#define SHM_RING_INFO(s, P) \
	FIELD(s, P, capacity); FIELD(s, P, data_size); FIELD(s, P, data_file_off); FIELD(s, P, data_map_off)

#define RING_STAT(s, P) \
	FIELD(s, P, capacity); FIELD(s, P, fill); FIELD(s, P, produced); FIELD(s, P, consumed); \
	FIELD(s, P, writes); FIELD(s, P, reads); FIELD(s, P, write_eagain); FIELD(s, P, read_eagain); \
	FIELD(s, P, producer_wakeups); FIELD(s, P, consumer_wakeups); \
	FIELD(s, P, producer_waiters); FIELD(s, P, consumer_waiters); \
	FIELD(s, P, producer_pid); FIELD(s, P, consumer_pid)

int main(void)
{
	static const char *const reserved[] = XBUF_RESERVED_NAMES;
	size_t i;

	printf("{\n  \"structs\": {");
	sep = "";

	STRUCT(xbuf_shm_ring_info);
	SHM_RING_INFO(xbuf_shm_ring_info, );
	end();

	STRUCT(xbuf_shm_info);
	FIELD(xbuf_shm_info, , magic);
	FIELD(xbuf_shm_info, , abi_version);
	FIELD(xbuf_shm_info, , page_size);
	FIELD(xbuf_shm_info, , header_pages);
	FIELD(xbuf_shm_info, , file_size);
	FIELD(xbuf_shm_info, , map_size);
	SHM_RING_INFO(xbuf_shm_info, ring[0].);
	SHM_RING_INFO(xbuf_shm_info, ring[1].);
	end();

	STRUCT(xbuf_shm_endpoint);
	FIELD(xbuf_shm_endpoint, , pos);
	FIELD(xbuf_shm_endpoint, , seq);
	FIELD(xbuf_shm_endpoint, , waiters);
	FIELD(xbuf_shm_endpoint, , owner);
	FIELD(xbuf_shm_endpoint, , wanted);
	FIELD(xbuf_shm_endpoint, , ops);
	FIELD(xbuf_shm_endpoint, , eagain);
	FIELD(xbuf_shm_endpoint, , wakeups);
	FIELD(xbuf_shm_endpoint, , fence);
	end();

	STRUCT(xbuf_rings);
	FIELD(xbuf_rings, , ifill);
	FIELD(xbuf_rings, , isize);
	FIELD(xbuf_rings, , ofill);
	FIELD(xbuf_rings, , osize);
	end();

	STRUCT(xbuf_ring_stat);
	RING_STAT(xbuf_ring_stat, );
	end();

	STRUCT(xbuf_stat);
	RING_STAT(xbuf_stat, inbound.);
	RING_STAT(xbuf_stat, outbound.);
	end();

	STRUCT(xbuf_latmus_info);
	FIELD(xbuf_latmus_info, , records);
	FIELD(xbuf_latmus_info, , dropped);
	FIELD(xbuf_latmus_info, , samples);
	FIELD(xbuf_latmus_info, , overruns);
	FIELD(xbuf_latmus_info, , period_us);
	FIELD(xbuf_latmus_info, , interval_us);
	FIELD(xbuf_latmus_info, , policy);
	FIELD(xbuf_latmus_info, , priority);
	FIELD(xbuf_latmus_info, , cpu);
	FIELD(xbuf_latmus_info, , error);
	FIELD(xbuf_latmus_info, , running);
	FIELD(xbuf_latmus_info, , reserved);
	end();

	STRUCT(xbuf_latmus_record);
	FIELD(xbuf_latmus_record, , sum_lat);
	FIELD(xbuf_latmus_record, , min_lat);
	FIELD(xbuf_latmus_record, , max_lat);
	FIELD(xbuf_latmus_record, , overruns);
	FIELD(xbuf_latmus_record, , samples);
	end();

	STRUCT(xbuf_latmus_params);
	FIELD(xbuf_latmus_params, , period_us);
	FIELD(xbuf_latmus_params, , interval_us);
	FIELD(xbuf_latmus_params, , cpu);
	FIELD(xbuf_latmus_params, , priority);
	FIELD(xbuf_latmus_params, , context);
	FIELD(xbuf_latmus_params, , hcells);
	FIELD(xbuf_latmus_params, , flags);
	FIELD(xbuf_latmus_params, , fake_count);
	FIELD(xbuf_latmus_params, , periods);
	FIELD(xbuf_latmus_params, , fake_ns);
	end();

	STRUCT(xbuf_latmus_frame);
	FIELD(xbuf_latmus_frame, , type);
	FIELD(xbuf_latmus_frame, , flags);
	FIELD(xbuf_latmus_frame, , size);
	end();

	STRUCT(xbuf_latmus_hist_cell);
	FIELD(xbuf_latmus_hist_cell, , cell);
	FIELD(xbuf_latmus_hist_cell, , count);
	end();

	STRUCT(xbuf_latmus_end);
	FIELD(xbuf_latmus_end, , samples);
	FIELD(xbuf_latmus_end, , overruns);
	FIELD(xbuf_latmus_end, , records);
	FIELD(xbuf_latmus_end, , dropped);
	FIELD(xbuf_latmus_end, , lost);
	FIELD(xbuf_latmus_end, , error);
	FIELD(xbuf_latmus_end, , __pad);
	end();

	printf("\n  },\n  \"reserved_names\": [");
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		printf("%s\"%s\"", i ? ", " : "", reserved[i]);
	printf("]\n}\n");
	return 0;
}
