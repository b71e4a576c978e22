// What the scheduledFiring workflow and its activity exchange: the workflow imports only this, never the
// activity's implementation (which reaches the database and Temporal).

export interface FireSlotInput {
  scheduleId: string;
  scheduledAt: string;
  workflowId: string;
}
export interface FireSlotOutput {
  outcome: string;
  notificationId: string | null;
}

export interface ScheduleActivities {
  fireScheduledSlot(input: FireSlotInput): Promise<FireSlotOutput>;
}
