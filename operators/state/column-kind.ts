/**
 * The element types a column (and a checkpointed piece of a bucket log) is stored in. Its own
 * module so that column-store.ts and bucket-log.ts, which both name it, do not import each other.
 */
export type ColumnKind = 'u8' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64';
