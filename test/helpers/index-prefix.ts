/** Every test run writes its own Elasticsearch indices (the global teardown removes them). */
export function testIndexPrefix(runId: string): string {
  return `mft-${runId}`;
}
