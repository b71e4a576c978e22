CREATE TYPE "public"."mail_provider" AS ENUM('outlook');--> statement-breakpoint
CREATE TYPE "public"."mailbox_status" AS ENUM('LINKED', 'SYNCING', 'LIVE', 'PAUSED', 'REAUTH_REQUIRED', 'UNLINKING');--> statement-breakpoint
CREATE SEQUENCE "public"."mail_sync_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"email" text NOT NULL,
	"display_name" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mail_pending_removals" (
	"mailbox_id" text NOT NULL,
	"message_id" text NOT NULL,
	"folder_id" text NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "mail_pending_removals_mailbox_id_message_id_folder_id_pk" PRIMARY KEY("mailbox_id","message_id","folder_id")
);
--> statement-breakpoint
CREATE TABLE "mailbox_folders" (
	"mailbox_id" text NOT NULL,
	"folder_id" text NOT NULL,
	"display_name" text NOT NULL,
	"parent_folder_id" text,
	"cursor" text,
	"cursor_kind" text,
	"initial_done" boolean DEFAULT false NOT NULL,
	"sweep_below_seq" bigint,
	"total_count" integer DEFAULT 0 NOT NULL,
	"unread_count" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mailbox_folders_mailbox_id_folder_id_pk" PRIMARY KEY("mailbox_id","folder_id")
);
--> statement-breakpoint
CREATE TABLE "mailboxes" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"owner" text NOT NULL,
	"provider" "mail_provider" NOT NULL,
	"external_id" text NOT NULL,
	"home_account_id" text,
	"address" text NOT NULL,
	"display_name" text,
	"status" "mailbox_status" DEFAULT 'LINKED' NOT NULL,
	"workflow_id" text NOT NULL,
	"folder_cursor" text,
	"folder_cursor_kind" text,
	"folders_total" integer DEFAULT 0 NOT NULL,
	"folders_synced" integer DEFAULT 0 NOT NULL,
	"messages_indexed" bigint DEFAULT 0 NOT NULL,
	"last_sync_at" timestamp with time zone,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"linked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_states" (
	"state_hash" text PRIMARY KEY NOT NULL,
	"provider" "mail_provider" NOT NULL,
	"account_id" text NOT NULL,
	"owner" text NOT NULL,
	"code_verifier_sealed" text NOT NULL,
	"callback_url" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "mail_index_mailboxes" (
	"mailbox_id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"doc" jsonb NOT NULL,
	"folder_count" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mail_index_messages" (
	"mailbox_id" text NOT NULL,
	"message_id" text NOT NULL,
	"account_id" text NOT NULL,
	"provider" text NOT NULL,
	"folder_id" text NOT NULL,
	"folder_name" text NOT NULL,
	"subject" text DEFAULT '' NOT NULL,
	"from_name" text,
	"from_address" text,
	"to" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"cc" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"received_at" timestamp with time zone,
	"is_read" boolean DEFAULT false NOT NULL,
	"flag_status" text DEFAULT 'notFlagged' NOT NULL,
	"body_preview" text DEFAULT '' NOT NULL,
	"conversation_id" text,
	"internet_message_id" text,
	"has_attachments" boolean DEFAULT false NOT NULL,
	"change_key" text,
	"last_modified_at" timestamp with time zone NOT NULL,
	"version" bigint NOT NULL,
	"sync_seq" bigint NOT NULL,
	CONSTRAINT "mail_index_messages_mailbox_id_message_id_pk" PRIMARY KEY("mailbox_id","message_id")
);
--> statement-breakpoint
ALTER TABLE "mail_pending_removals" ADD CONSTRAINT "mail_pending_removals_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailbox_folders" ADD CONSTRAINT "mailbox_folders_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "oauth_states" ADD CONSTRAINT "oauth_states_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_owner_email_idx" ON "accounts" USING btree ("owner",lower("email"));--> statement-breakpoint
CREATE INDEX "accounts_owner_id_idx" ON "accounts" USING btree ("owner","id");--> statement-breakpoint
CREATE INDEX "mail_pending_removals_seq_idx" ON "mail_pending_removals" USING btree ("mailbox_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "mailboxes_account_external_idx" ON "mailboxes" USING btree ("account_id","provider","external_id");--> statement-breakpoint
CREATE INDEX "oauth_states_expires_idx" ON "oauth_states" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "mail_index_mailboxes_account_idx" ON "mail_index_mailboxes" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "mail_index_messages_received_idx" ON "mail_index_messages" USING btree ("mailbox_id","received_at" desc nulls last,"message_id");--> statement-breakpoint
CREATE INDEX "mail_index_messages_folder_idx" ON "mail_index_messages" USING btree ("mailbox_id","folder_id");