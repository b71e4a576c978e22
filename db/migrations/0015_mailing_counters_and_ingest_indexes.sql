DROP INDEX "mailing_recipients_token_hash_idx";--> statement-breakpoint
DROP INDEX "mailing_recipients_status_idx";--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "count_queued" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "count_sending" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "count_sent" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "count_failed" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "count_invalid" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "count_duplicate" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "count_cancelled" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "count_unknown" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "mailing_recipients_sent_at_idx" ON "mailing_recipients" USING btree ("mailing_id","sent_at") WHERE sent_at is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "mailing_recipients_token_hash_idx" ON "mailing_recipients" USING btree ("token_hash") WHERE token_hash is not null;--> statement-breakpoint
CREATE INDEX "mailing_recipients_status_idx" ON "mailing_recipients" USING btree ("mailing_id","status","row_number") WHERE status <> 'QUEUED';--> statement-breakpoint
-- Recipients by status on the mailings row, kept in the same statement as every change to mailing_recipients
-- (ingest, sends, cancel, any future writer). Statement-level with transition tables: one grouped update of
-- the mailings row per statement, not one per row, so a 5,000-row insert costs one small aggregate.
CREATE FUNCTION "mailing_recipients_count"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids text[];
  statuses text[];
  deltas int[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(mailing_id), array_agg(status), array_agg(n) INTO ids, statuses, deltas
      FROM (SELECT mailing_id, status::text AS status, count(*)::int AS n FROM new_rows GROUP BY 1, 2) g;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(mailing_id), array_agg(status), array_agg(n) INTO ids, statuses, deltas
      FROM (SELECT mailing_id, status::text AS status, -count(*)::int AS n FROM old_rows GROUP BY 1, 2) g;
  ELSE
    -- Rows whose status did not change cancel out (a verify, an error note): no write at all.
    SELECT array_agg(mailing_id), array_agg(status), array_agg(n) INTO ids, statuses, deltas
      FROM (SELECT mailing_id, status, sum(n)::int AS n FROM (
        SELECT mailing_id, status::text AS status, 1 AS n FROM new_rows
        UNION ALL SELECT mailing_id, status::text, -1 FROM old_rows
      ) c GROUP BY 1, 2 HAVING sum(n) <> 0) g;
  END IF;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  UPDATE "mailings" m SET
    count_queued = m.count_queued + d.queued, count_sending = m.count_sending + d.sending,
    count_sent = m.count_sent + d.sent, count_failed = m.count_failed + d.failed,
    count_invalid = m.count_invalid + d.invalid, count_duplicate = m.count_duplicate + d.duplicate,
    count_cancelled = m.count_cancelled + d.cancelled, count_unknown = m.count_unknown + d.unknown
  FROM (
    SELECT id,
      coalesce(sum(delta) FILTER (WHERE status = 'QUEUED'), 0)::int AS queued,
      coalesce(sum(delta) FILTER (WHERE status = 'SENDING'), 0)::int AS sending,
      coalesce(sum(delta) FILTER (WHERE status = 'SENT'), 0)::int AS sent,
      coalesce(sum(delta) FILTER (WHERE status = 'FAILED'), 0)::int AS failed,
      coalesce(sum(delta) FILTER (WHERE status = 'INVALID'), 0)::int AS invalid,
      coalesce(sum(delta) FILTER (WHERE status = 'DUPLICATE'), 0)::int AS duplicate,
      coalesce(sum(delta) FILTER (WHERE status = 'CANCELLED'), 0)::int AS cancelled,
      coalesce(sum(delta) FILTER (WHERE status = 'UNKNOWN'), 0)::int AS unknown
    FROM unnest(ids, statuses, deltas) AS u(id, status, delta) GROUP BY id
  ) d
  WHERE m.id = d.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "mailing_recipients_count_insert" AFTER INSERT ON "mailing_recipients"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "mailing_recipients_count"();
--> statement-breakpoint
CREATE TRIGGER "mailing_recipients_count_update" AFTER UPDATE ON "mailing_recipients"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "mailing_recipients_count"();
--> statement-breakpoint
CREATE TRIGGER "mailing_recipients_count_delete" AFTER DELETE ON "mailing_recipients"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "mailing_recipients_count"();
--> statement-breakpoint
-- Mailings that exist already start from a recount (compared as text: on a fresh database every migration
-- runs in one transaction, and an enum value added in it cannot be used as one until it commits).
UPDATE "mailings" m SET
  count_queued = c.queued, count_sending = c.sending, count_sent = c.sent, count_failed = c.failed,
  count_invalid = c.invalid, count_duplicate = c.duplicate, count_cancelled = c.cancelled, count_unknown = c.unknown
FROM (
  SELECT mailing_id,
    count(*) FILTER (WHERE status::text = 'QUEUED')::int AS queued, count(*) FILTER (WHERE status::text = 'SENDING')::int AS sending,
    count(*) FILTER (WHERE status::text = 'SENT')::int AS sent, count(*) FILTER (WHERE status::text = 'FAILED')::int AS failed,
    count(*) FILTER (WHERE status::text = 'INVALID')::int AS invalid, count(*) FILTER (WHERE status::text = 'DUPLICATE')::int AS duplicate,
    count(*) FILTER (WHERE status::text = 'CANCELLED')::int AS cancelled, count(*) FILTER (WHERE status::text = 'UNKNOWN')::int AS unknown
  FROM "mailing_recipients" GROUP BY mailing_id
) c
WHERE m.id = c.mailing_id;
