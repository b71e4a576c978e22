CREATE TABLE "mailing_counts" (
	"mailing_id" text PRIMARY KEY NOT NULL,
	"count_queued" integer DEFAULT 0 NOT NULL,
	"count_sending" integer DEFAULT 0 NOT NULL,
	"count_sent" integer DEFAULT 0 NOT NULL,
	"count_failed" integer DEFAULT 0 NOT NULL,
	"count_invalid" integer DEFAULT 0 NOT NULL,
	"count_duplicate" integer DEFAULT 0 NOT NULL,
	"count_cancelled" integer DEFAULT 0 NOT NULL,
	"count_unknown" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "mailing_counts" ADD CONSTRAINT "mailing_counts_mailing_id_mailings_id_fk" FOREIGN KEY ("mailing_id") REFERENCES "public"."mailings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- The counters move off the mailings row (see db/schema/mailings.ts): copied, then kept here by the triggers.
INSERT INTO "mailing_counts" (mailing_id, count_queued, count_sending, count_sent, count_failed, count_invalid, count_duplicate, count_cancelled, count_unknown)
SELECT id, count_queued, count_sending, count_sent, count_failed, count_invalid, count_duplicate, count_cancelled, count_unknown FROM "mailings";
--> statement-breakpoint
-- The same statement-level function (migration 0015), now adding its deltas to mailing_counts: one upsert
-- per statement, creating a mailing's row with its first recipients.
CREATE OR REPLACE FUNCTION "mailing_recipients_count"() RETURNS trigger LANGUAGE plpgsql AS $$
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
  INSERT INTO "mailing_counts" AS m (mailing_id, count_queued, count_sending, count_sent, count_failed, count_invalid, count_duplicate, count_cancelled, count_unknown)
  SELECT id,
    coalesce(sum(delta) FILTER (WHERE status = 'QUEUED'), 0)::int,
    coalesce(sum(delta) FILTER (WHERE status = 'SENDING'), 0)::int,
    coalesce(sum(delta) FILTER (WHERE status = 'SENT'), 0)::int,
    coalesce(sum(delta) FILTER (WHERE status = 'FAILED'), 0)::int,
    coalesce(sum(delta) FILTER (WHERE status = 'INVALID'), 0)::int,
    coalesce(sum(delta) FILTER (WHERE status = 'DUPLICATE'), 0)::int,
    coalesce(sum(delta) FILTER (WHERE status = 'CANCELLED'), 0)::int,
    coalesce(sum(delta) FILTER (WHERE status = 'UNKNOWN'), 0)::int
  FROM unnest(ids, statuses, deltas) AS u(id, status, delta) GROUP BY id
  ON CONFLICT (mailing_id) DO UPDATE SET
    count_queued = m.count_queued + excluded.count_queued, count_sending = m.count_sending + excluded.count_sending,
    count_sent = m.count_sent + excluded.count_sent, count_failed = m.count_failed + excluded.count_failed,
    count_invalid = m.count_invalid + excluded.count_invalid, count_duplicate = m.count_duplicate + excluded.count_duplicate,
    count_cancelled = m.count_cancelled + excluded.count_cancelled, count_unknown = m.count_unknown + excluded.count_unknown;
  RETURN NULL;
END $$;
--> statement-breakpoint
ALTER TABLE "mailings" DROP COLUMN "count_queued";--> statement-breakpoint
ALTER TABLE "mailings" DROP COLUMN "count_sending";--> statement-breakpoint
ALTER TABLE "mailings" DROP COLUMN "count_sent";--> statement-breakpoint
ALTER TABLE "mailings" DROP COLUMN "count_failed";--> statement-breakpoint
ALTER TABLE "mailings" DROP COLUMN "count_invalid";--> statement-breakpoint
ALTER TABLE "mailings" DROP COLUMN "count_duplicate";--> statement-breakpoint
ALTER TABLE "mailings" DROP COLUMN "count_cancelled";--> statement-breakpoint
ALTER TABLE "mailings" DROP COLUMN "count_unknown";