import {
  type ConnectionInfo,
  type PresenceReport,
  presenceReportSchema,
  userIdProblem,
} from "@herald/protocol";

/**
 * Turns a report body into a `PresenceReport`, or `undefined` when it is malformed or comes from the wrong
 * subject. Heartbeats carry every connection of a connector (tens of thousands), so their list is checked by
 * hand: a schema parse of 25k entries costs tens of milliseconds of event loop every interval.
 *
 * @example
 * parseReport(JSON.parse(data), (id) => s.presenceReport(id) === subject)
 */
export function parseReport(
  body: unknown,
  subjectMatches: (connectorId: string) => boolean,
): PresenceReport | undefined {
  let connections: ConnectionInfo[] | undefined;
  let input = body;
  if (isRecord(body) && body.type === "heartbeat" && Array.isArray(body.connections)) {
    connections = [];
    for (const item of body.connections as unknown[]) {
      // A malformed entry voids the heartbeat. User ids are checked only for entries presence does not hold
      // already (`ReportHandler`): an illegal one is skipped, not the whole heartbeat.
      if (!isConnectionInfo(item)) return undefined;
      connections.push(item as ConnectionInfo);
    }
    input = { ...body, connections: [] };
  }
  const parsed = presenceReportSchema.safeParse(input);
  if (!parsed.success) return undefined;
  const report = parsed.data;
  if (!subjectMatches(report.connectorId)) return undefined;
  if (report.type === "heartbeat" && connections) report.connections = connections;
  if (report.type === "open" && userIdProblem(report.connection.userId)) return undefined;
  return report;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isConnectionInfo(value: unknown): value is ConnectionInfo {
  return (
    isRecord(value) &&
    typeof value.connectionId === "string" &&
    typeof value.userId === "string" &&
    typeof value.deviceId === "string" &&
    typeof value.since === "number"
  );
}
