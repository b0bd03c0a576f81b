/** Help text of the security commands (kept apart so `bellwether help` loads nothing heavy). */
export const SECURITY_COMMANDS_USAGE = `Security commands:
  bellwether audit verify [--file F]          check the audit log's hash chain, rotated files included (default BW_AUDIT_FILE)
  bellwether keys create --role R --name N    print a new API key and its BW_API_KEYS_FILE line
                                              (roles: viewer, analyst, admin, service)
  bellwether dlq read [--limit N] [--nats-url URL]
                                              dead letters as JSON lines, bodies opened with the PII keys
  bellwether dlq replay --reason R [--limit N] [--dry-run] [--keep] [--nats-url URL]
                                              re-publish reviewed dead letters of one reason (outlier,
                                              near_duplicate, …) marked Bw-Reviewed; deleted from BW_DLQ
                                              once stored unless --keep (docs/cleansing.md)
`;
