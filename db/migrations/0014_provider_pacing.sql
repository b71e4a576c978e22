CREATE TABLE "provider_pacing" (
	"key" text PRIMARY KEY NOT NULL,
	"tat" timestamp (6) with time zone NOT NULL
);
