CREATE TYPE "public"."mailing_status" AS ENUM('PENDING', 'PARSING', 'SENDING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED');--> statement-breakpoint
CREATE TYPE "public"."mailing_recipient_status" AS ENUM('QUEUED', 'SENDING', 'SENT', 'FAILED', 'INVALID', 'DUPLICATE', 'CANCELLED');--> statement-breakpoint
CREATE TABLE "mailing_recipients" (
	"mailing_id" text NOT NULL,
	"row_number" integer NOT NULL,
	"email" text NOT NULL,
	"normalized_email" text,
	"status" "mailing_recipient_status" NOT NULL,
	"reason" text,
	"token_hash" text,
	"token_sealed" text,
	"provider_message_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"sending_at" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"verified_at" timestamp with time zone,
	CONSTRAINT "mailing_recipients_mailing_id_row_number_pk" PRIMARY KEY("mailing_id","row_number")
);
--> statement-breakpoint
CREATE TABLE "mailings" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"status" "mailing_status" DEFAULT 'PENDING' NOT NULL,
	"blob_id" text NOT NULL,
	"options" jsonb NOT NULL,
	"workflow_id" text NOT NULL,
	"total_rows" integer DEFAULT 0 NOT NULL,
	"valid_rows" integer DEFAULT 0 NOT NULL,
	"invalid_rows" integer DEFAULT 0 NOT NULL,
	"duplicate_rows" integer DEFAULT 0 NOT NULL,
	"failure_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sending_started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "mailing_recipients" ADD CONSTRAINT "mailing_recipients_mailing_id_mailings_id_fk" FOREIGN KEY ("mailing_id") REFERENCES "public"."mailings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailings" ADD CONSTRAINT "mailings_blob_id_blobs_id_fk" FOREIGN KEY ("blob_id") REFERENCES "public"."blobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "mailing_recipients_unique_email_idx" ON "mailing_recipients" USING btree ("mailing_id","normalized_email") WHERE status not in ('INVALID', 'DUPLICATE');--> statement-breakpoint
CREATE UNIQUE INDEX "mailing_recipients_token_hash_idx" ON "mailing_recipients" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "mailing_recipients_status_idx" ON "mailing_recipients" USING btree ("mailing_id","status","row_number");