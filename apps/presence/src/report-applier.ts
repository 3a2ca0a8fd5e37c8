import type { PresenceReport, Subjects } from "@herald/protocol";
import type { Msg } from "@nats-io/transport-node";
import { digestHeartbeat } from "./heartbeat-digest.js";
import { parseReport } from "./report-parser.js";
import type { View } from "./view.js";

/** Applies one connector report to the registry; the emitter also enforces the connection limit. */
export function createReportApplier(s: Subjects, view: View): (msg: Msg) => void {
  const { handler, metrics, limit } = view;
  return (msg) => {
    // A large heartbeat part identical to the last one of its number is applied without parsing it.
    const digest = digestHeartbeat(msg.data);
    if (digest && msg.subject === s.presenceReport(digest.connectorId) && handler.handleUnchanged(digest)) {
      metrics.reports.inc({ type: "heartbeat" });
      metrics.unchangedParts.inc();
      return;
    }
    const report = readReport(s, msg);
    if (!report) {
      metrics.invalidReports.inc();
      return;
    }
    metrics.reports.inc({ type: report.type });
    handler.handle(report, digest?.digest);
    // Only the emitter enforces the limit, so one command goes out per excess connection.
    if (report.type === "open" && limit.enabled && view.gate.isEnabled) {
      for (const command of limit.check(report.connectorId, report.connection))
        view.outbox.disconnect(command);
    }
  };
}

function readReport(s: Subjects, msg: Msg): PresenceReport | undefined {
  let body: unknown;
  try {
    body = msg.json();
  } catch {
    return undefined;
  }
  // The subject names the connector; a report claiming another one is not trusted.
  return parseReport(body, (connectorId) => msg.subject === s.presenceReport(connectorId));
}
