// The demo page: plain DOM code on top of the SDK bundle the dev server builds (/herald-client.js).
// ?user=<id> picks the user (default alice), ?device=<id> the device (default: one kept in localStorage),
// ?channel=<name> the chat channel (default lobby).
import { HeraldClient } from "/herald-client.js";

const params = new URLSearchParams(location.search);
const userId = params.get("user") ?? "alice";
const deviceId = params.get("device") ?? storedDeviceId();
const channel = params.get("channel") ?? "lobby";
const people = [...new Set(["alice", "bob", "carol", userId])];
const $ = (id) => document.getElementById(id);

function storedDeviceId() {
  const key = "herald-demo-device";
  const id = localStorage.getItem(key) ?? `browser-${crypto.randomUUID().slice(0, 8)}`;
  localStorage.setItem(key, id);
  return id;
}

function showError(text) {
  $("error").textContent = text;
}

async function api(path, body) {
  const response = await fetch(
    path,
    body === undefined ? {} : { method: "POST", body: JSON.stringify(body) },
  );
  const value = await response.json();
  if (!response.ok) throw new Error(value.error?.message ?? `${path}: HTTP ${response.status}`);
  return value;
}

function text(tag, className, content) {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = content;
  return node;
}

const describe = (data) =>
  typeof data === "object" && data && "text" in data ? String(data.text) : JSON.stringify(data);

// Inbox: one entry per message id. Unread entries are not acked, so the server sends them again after a
// reconnect; that updates the entry (a redelivery badge) instead of adding a second one.
const inbox = new Map();

function renderEntry(entry) {
  const item = entry.node ?? document.createElement("li");
  entry.node = item;
  item.dataset.id = entry.id;
  item.dataset.seq = String(entry.seq);
  item.dataset.state = entry.state;
  const from = typeof entry.data === "object" && entry.data?.from ? `${entry.data.from}: ` : "";
  const badge = [entry.state, entry.deliveries > 1 ? `delivered ${entry.deliveries}×` : ""].filter(Boolean);
  item.replaceChildren(
    text("span", "seq", `#${entry.seq}`),
    text("span", "body", `${from}${describe(entry.data)}`),
    text("span", "badge", badge.join(" · ")),
  );
  return item;
}

function renderUnread() {
  const unread = [...inbox.values()].filter((entry) => entry.state === "unread").length;
  $("unread").textContent = `${unread} unread`;
}

function markRead(entry) {
  if (entry.state === "acked") return;
  entry.message.ack();
  entry.state = "acked";
  renderEntry(entry);
  renderUnread();
}

function onMessage(message) {
  const known = inbox.get(message.id);
  if (known) {
    known.deliveries += 1;
    known.message = message;
    renderEntry(known);
    return;
  }
  const entry = {
    id: message.id,
    seq: message.seq,
    data: message.data,
    state: "unread",
    deliveries: 1,
    message,
  };
  inbox.set(message.id, entry);
  const item = renderEntry(entry);
  item.addEventListener("click", () => markRead(entry));
  $("inbox").append(item);
  item.scrollIntoView({ block: "nearest" });
  renderUnread();
}

function onChat(message) {
  const data = message.data ?? {};
  const item = document.createElement("li");
  item.dataset.offset = String(message.offset);
  item.append(
    text("span", "offset", `${message.offset}`),
    text("span", "from", data.from ?? "?"),
    text("span", "text", describe(data)),
  );
  $("chat").append(item);
  item.scrollIntoView({ block: "nearest" });
}

async function refreshPresence() {
  try {
    const { users } = await api(`/api/presence?userIds=${people.map(encodeURIComponent).join(",")}`);
    $("presence").replaceChildren(
      ...users.map((user) => {
        const item = document.createElement("li");
        item.dataset.user = user.userId;
        item.dataset.online = String(user.online);
        const devices = user.connections.length;
        item.append(
          text("span", "dot", ""),
          text("span", "name", user.userId === userId ? `${user.userId} (you)` : user.userId),
          text(
            "span",
            "devices",
            user.online ? `${devices} connection${devices === 1 ? "" : "s"}` : "offline",
          ),
        );
        return item;
      }),
    );
  } catch (error) {
    showError(`presence: ${error.message}`);
  }
}

function wireForms() {
  $("notify-to").replaceChildren(
    ...people.map((person) =>
      Object.assign(document.createElement("option"), { value: person, text: person }),
    ),
  );
  $("notify-to").value = userId;
  $("notify").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { userId: $("notify-to").value, data: { from: userId, text: $("notify-text").value } };
    $("notify-text").value = "";
    api("/api/publish/user", body).catch((error) => showError(error.message));
  });
  $("say").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { channel, data: { from: userId, text: $("say-text").value } };
    $("say-text").value = "";
    api("/api/publish/channel", body).catch((error) => showError(error.message));
  });
  $("read-all").addEventListener("click", () => {
    for (const entry of inbox.values()) markRead(entry);
  });
}

async function main() {
  $("who").textContent = `${userId} on ${deviceId}`;
  $("channel-name").textContent = channel;
  wireForms();
  const config = await api("/api/config");
  const client = new HeraldClient({
    url: config.wsUrl,
    // Short-lived tokens from the dev server: the SDK asks again before each connect and before expiry.
    token: async () => (await api("/api/token", { userId, deviceId, channels: [channel] })).token,
    autoAck: false,
  });
  client.on("state", (state) => {
    $("state").dataset.state = state;
    $("state").textContent = state;
  });
  client.on("message", onMessage);
  client.on("subscribed", ({ recovered }) => {
    $("recovered").textContent = recovered ? "history recovered" : "history partly gone";
  });
  client.on("error", (error) => showError(`${error.code}: ${error.message}`));
  // since 0: everything the channel still retains, then live messages; after a reconnect the SDK resumes
  // after the last offset it saw.
  client.subscribe(channel, onChat, { since: 0 });
  window.heraldDemo = { client, inbox };
  await client.connect();
  await refreshPresence();
  setInterval(refreshPresence, 2_000);
}

main().catch((error) => showError(error.message));
