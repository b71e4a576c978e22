#!/bin/sh
# Registers Mailflow's namespace and the search attributes its workflows carry (idempotent).
set -eu
temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1 \
  || temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$TEMPORAL_RETENTION"
for attribute in NotificationChannel NotificationPriority UserId CorrelationId MailingId MailboxId AccountId ScheduleId; do
  temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$attribute" --type Keyword 2>/dev/null || true
done
temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE"
