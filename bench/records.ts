/**
 * Scenario 2, records: the C producer streams 24-byte latmus records
 *   struct latmus_record { u64 sum_lat; s32 min_lat; s32 max_lat; u32 overruns; u32 samples; }
 * at full rate (2730 records per write); the consumer decodes every field
 * of every record and checks the producer's checksum.
 *
 *   bun bench/records.ts CONSUMER [--bytes N] [--ring R]
 *
 * The consumers are bulk.ts's; xbuf-views reads in place with
 * xb.recordBatches(defineRecord(...)), and the pipe and socket consumers
 * decode the same bytes with the same RecordBatch code.
 */
import { streamScenario } from "./bulk.ts";

await streamScenario("records");
