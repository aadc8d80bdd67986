// The dashboard of tim-py serve (docs/dashboard.md): users with live status, a profile editor,
// simulated status, snapshots and the change feed. Plain JS, no build step.

const API = "/ref/dashboard/";
const PAGE = 50;
const TAIL = 60;
// user_status_status_type -> the name shown (the C values: Online 1, Offline 2, UnLogined 3)
const STATUS_NAMES = { 1: "Online", 2: "Offline", 3: "UnLogined" };

const $ = (id) => document.getElementById(id);

const state = {
  info: null,
  match: "",
  cursors: [null], // the cursor of each page seen so far (keyset paging)
  page: 0,
  next: null,
  rows: new Map(), // UserID -> <tr>
  selected: null,
  profile: null, // the open profile as loaded (to send only what changed)
  dirty: false,
  seen: new Set(), // event Seqs shown in the tail
  connected: false,
};

// ---- talking to the server -----------------------------------------------------------------

async function getJSON(path) {
  const resp = await fetch(API + path, { credentials: "same-origin" });
  const doc = await resp.json();
  if (doc.ErrorCode !== 0) throw new Error(`${doc.ErrorInfo} (${doc.ErrorCode})`);
  return doc;
}

// A command of the REST API, called through the dashboard's door; body is an object or JSON text.
async function call(command, body) {
  const resp = await fetch(API + "call/" + command, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-TIM-Dashboard": "1" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const doc = await resp.json();
  if (doc.ErrorCode !== 0) throw new Error(`${doc.ErrorInfo} (${doc.ErrorCode})`);
  return doc;
}

let toastTimer = null;
function toast(text, error = false) {
  const t = $("toast");
  t.textContent = text;
  t.className = "toast show" + (error ? " error" : "");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = "toast"; }, error ? 6000 : 2500);
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function badge(status) {
  const name = status || "Offline";
  return el("span", { class: "badge " + name.toLowerCase(), "data-status": name, text: name });
}

function devices(list) {
  const span = el("span", { class: "devices" });
  for (const d of list || []) span.append(el("span", { class: "device", text: d }));
  return span;
}

// ---- the users list --------------------------------------------------------------------------

function userRow(u) {
  const tr = el("tr", { "data-user": u.UserID, tabindex: "0", title: `Open ${u.UserID}'s profile` });
  if (u.UserID === state.selected) tr.setAttribute("aria-current", "true");
  const initials = (u.Nick || u.UserID).slice(0, 2);
  const names = el("span", { class: "names" }, el("div", { class: "uid", text: u.UserID }),
    el("div", { class: "nick", "data-field": "nick", text: u.Nick || "" }));
  tr.append(
    el("td", {}, el("span", { class: "user-cell" }, el("span", { class: "avatar", "aria-hidden": "true", text: initials }), names)),
    el("td", { "data-field": "status" }, badge(u.Status)),
    el("td", { "data-field": "custom", text: u.CustomStatus || "" }),
    el("td", { "data-field": "devices" }, devices(u.Devices)),
  );
  if (u.Deleted) tr.classList.add("deleted");
  tr.addEventListener("click", () => openUser(u.UserID));
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openUser(u.UserID); } });
  return tr;
}

async function loadUsers() {
  const q = new URLSearchParams({ limit: String(PAGE) });
  const after = state.cursors[state.page];
  if (after) q.set("after", after);
  if (state.match) q.set("match", state.match);
  const match = state.match;
  let doc;
  try {
    doc = await getJSON("users?" + q);
  } catch (e) {
    toast("Cannot list users: " + e.message, true);
    return;
  }
  if (match !== state.match) return; // a newer search is on its way
  const body = $("users");
  body.replaceChildren();
  state.rows.clear();
  for (const u of doc.Users) {
    const tr = userRow(u);
    state.rows.set(u.UserID, tr);
    body.append(tr);
  }
  state.next = doc.Next ?? null;
  $("users-empty").hidden = doc.Users.length > 0;
  $("total").textContent = `(${doc.Total})`;
  const first = state.page * PAGE + (doc.Users.length ? 1 : 0);
  $("range").textContent = `${first}–${state.page * PAGE + doc.Users.length} of ${doc.Total}`;
  $("prev").disabled = state.page === 0;
  $("next").disabled = state.next === null;
}

function setRowStatus(tr, type, custom, devs) {
  tr.querySelector('[data-field="status"]').replaceChildren(badge(STATUS_NAMES[type] || "Offline"));
  tr.querySelector('[data-field="custom"]').textContent = custom || "";
  tr.querySelector('[data-field="devices"]').replaceChildren(devices(devs));
  tr.classList.remove("flash");
  void tr.offsetWidth; // restart the animation
  tr.classList.add("flash");
}

// ---- one user's profile and status --------------------------------------------------------------

function fieldInput(f, value) {
  const id = "f-" + f.Name;
  let input;
  if (f.Kind === "enum") {
    input = el("select", { id, "data-tag": f.Tag });
    for (const v of f.Values) input.append(el("option", { value: v, text: v.replace(/^.*_Type_/, "") }));
    input.value = value ?? f.Values[0];
  } else if (f.Kind === "uint32") {
    input = el("input", { id, type: "number", min: "0", max: String(f.Max), step: "1", "data-tag": f.Tag });
    input.value = value ?? 0;
  } else {
    input = el("input", { id, type: "text", "data-tag": f.Tag, autocomplete: "off" });
    input.value = value ?? "";
  }
  input.addEventListener("input", () => { state.dirty = true; });
  return [el("label", { for: id, text: f.Name.replace(/_/g, " ") }), input];
}

function renderProfile(doc) {
  state.profile = doc;
  state.dirty = false;
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("detail-id").textContent = doc.UserID;
  $("detail-avatar").textContent = (doc.Profile.Tag_Profile_IM_Nick || doc.UserID).slice(0, 2);
  renderDetailStatus(doc.Status, doc.CustomStatus, doc.Devices);
  const fields = $("fields");
  fields.replaceChildren();
  for (const f of state.info.Fields) {
    if (f.Kind === "custom") continue;
    fields.append(...fieldInput(f, doc.Profile[f.Tag]));
  }
  const custom = $("custom-fields");
  custom.replaceChildren();
  const prefix = "Tag_Profile_Custom_";
  for (const [tag, value] of Object.entries(doc.Profile)) {
    if (!tag.startsWith(prefix)) continue;
    const key = tag.slice(prefix.length);
    const id = "c-" + key;
    const input = el("input", { id, "data-tag": tag, autocomplete: "off" });
    input.value = value;
    input.addEventListener("input", () => { state.dirty = true; });
    const remove = el("button", { type: "button", class: "remove", "aria-label": `Remove ${key}`, text: "✕" });
    remove.addEventListener("click", () => { input.value = ""; state.dirty = true; });
    custom.append(el("label", { for: id, text: key }), input, remove);
  }
  if (!custom.children.length) custom.append(el("span", { class: "empty", text: "none" }));
  $("status-custom").value = doc.CustomStatus || "";
  const type = Object.keys(STATUS_NAMES).find((k) => STATUS_NAMES[k] === doc.Status);
  if (type) $("status-type").value = type;
}

function renderDetailStatus(status, custom, devs) {
  const box = $("detail-status");
  box.replaceChildren(badge(status), " ", el("span", { text: custom || "" }), " ", devices(devs));
}

async function openUser(id) {
  state.selected = id;
  for (const [uid, tr] of state.rows) {
    if (uid === id) tr.setAttribute("aria-current", "true");
    else tr.removeAttribute("aria-current");
  }
  try {
    renderProfile(await getJSON("user?" + new URLSearchParams({ id })));
  } catch (e) {
    toast(`Cannot open ${id}: ${e.message}`, true);
  }
}

async function saveProfile(ev) {
  ev.preventDefault();
  const doc = state.profile;
  if (!doc) return;
  const items = [];
  for (const input of document.querySelectorAll("#fields [data-tag], #custom-fields [data-tag]")) {
    const tag = input.dataset.tag;
    const old = doc.Profile[tag];
    let value = input.value;
    if (input.type === "number") {
      if (value === "" || !/^\d+$/.test(value)) { toast(`${tag}: a whole number is needed`, true); return; }
      value = Number(value);
      if (value === (old ?? 0)) continue;
    } else if (value === (old ?? (input.tagName === "SELECT" ? input.options[0].value : ""))) {
      continue;
    }
    items.push({ Tag: tag, Value: value });
  }
  const key = $("custom-key").value.trim();
  if (key) {
    const tag = key.startsWith("Tag_Profile_Custom_") ? key : "Tag_Profile_Custom_" + key;
    items.push({ Tag: tag, Value: $("custom-value").value });
  }
  if (!items.length) { toast("Nothing changed"); return; }
  try {
    await call("v4/profile/portrait_set", { From_Account: doc.UserID, ProfileItem: items });
  } catch (e) {
    toast("Not saved: " + e.message, true);
    return;
  }
  $("custom-key").value = "";
  $("custom-value").value = "";
  toast(`Saved ${items.length} field${items.length > 1 ? "s" : ""} of ${doc.UserID}`);
  try { renderProfile(await getJSON("user?" + new URLSearchParams({ id: doc.UserID }))); } catch (e) { toast(e.message, true); }
}

async function applyStatus(ev) {
  ev.preventDefault();
  const doc = state.profile;
  if (!doc) return;
  const type = Number($("status-type").value);
  try {
    await call("ref/set_user_status", { UserID: doc.UserID, StatusType: type, CustomStatus: $("status-custom").value });
    toast(`${doc.UserID} is now ${STATUS_NAMES[type]}`);
  } catch (e) {
    toast("Status not set: " + e.message, true);
  }
}

// ---- the events tail -------------------------------------------------------------------------------

function describe(ev) {
  const d = ev.Data;
  if (!d) return ev.Type === "kick" ? "sessions ended" : "account removed";
  if ("user_status_status_type" in d) {
    const devs = (d.user_status_online_devices || []).join(", ");
    return `${STATUS_NAMES[d.user_status_status_type] || d.user_status_status_type}` +
      (d.user_status_custom_status ? ` · “${d.user_status_custom_status}”` : "") + (devs ? ` · ${devs}` : "");
  }
  if ("user_profile_nick_name" in d) return `nick “${d.user_profile_nick_name}”`;
  return "";
}

function addEvent(ev, live) {
  if (state.seen.has(ev.Seq)) return;
  state.seen.add(ev.Seq);
  const li = el("li", { "data-seq": String(ev.Seq), "data-type": ev.Type, "data-user": ev.UserID || "" },
    el("span", { class: "seq", text: "#" + ev.Seq }),
    el("span", { class: "type " + ev.Type, text: ev.Type }),
    el("span", { class: "user", text: ev.UserID || "" }),
    el("span", { class: "what", text: describe(ev) + (ev.Origin ? ` (${ev.Origin})` : "") }));
  const list = $("events");
  // newest first; the tail read at start may arrive after live ones
  const after = [...list.children].find((c) => Number(c.dataset.seq) < ev.Seq);
  list.insertBefore(li, after || null);
  while (list.children.length > TAIL) {
    state.seen.delete(Number(list.lastElementChild.dataset.seq));
    list.lastElementChild.remove();
  }
  if (live) applyEvent(ev);
}

// Whether an account of this id belongs on the page shown (its search, its place in the order).
function onThisPage(id) {
  if (state.match && !id.includes(state.match)) return false;
  const after = state.cursors[state.page];
  if (after && id <= after) return false;
  return state.next === null || id <= state.next;
}

let reloadTimer = null;
function reloadSoon() { // coalesces the changes of a burst into one reload
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(loadUsers, 500);
}

function applyEvent(ev) {
  const tr = state.rows.get(ev.UserID);
  const d = ev.Data;
  if (!tr && d && ev.Type === "profile" && onThisPage(ev.UserID)) reloadSoon(); // a new account
  if (tr && !d && ev.Type !== "kick") reloadSoon(); // an account removed: shown struck through, then gone
  if (tr) {
    if (!d && ev.Type !== "kick") tr.classList.add("deleted");
    else if (d && "user_status_status_type" in d) {
      tr.classList.remove("deleted");
      setRowStatus(tr, d.user_status_status_type, d.user_status_custom_status, d.user_status_online_devices);
    } else if (d && "user_profile_nick_name" in d) {
      tr.classList.remove("deleted");
      tr.querySelector('[data-field="nick"]').textContent = d.user_profile_nick_name || "";
    }
  }
  if (state.profile && ev.UserID === state.profile.UserID && d && "user_status_status_type" in d) {
    renderDetailStatus(STATUS_NAMES[d.user_status_status_type], d.user_status_custom_status, d.user_status_online_devices);
  } else if (state.profile && ev.UserID === state.profile.UserID && d && !state.dirty) {
    openUser(ev.UserID);
  }
}

async function loadTail() {
  try {
    const doc = await call("ref/events", { Limit: TAIL });
    for (const ev of doc.Events) addEvent(ev, false);
  } catch (e) {
    toast("Cannot read the events: " + e.message, true);
  }
}

// ---- the live feed ----------------------------------------------------------------------------------

function setLive(on, text) {
  $("live").className = "live " + (on ? "on" : "off");
  $("live-text").textContent = text;
}

function connect() {
  const source = new EventSource(API + "events");
  const reload = () => { // changes were missed, or the events are numbered anew
    $("events").replaceChildren();
    state.seen.clear();
    loadUsers();
    loadTail();
  };
  source.addEventListener("hello", () => {
    const again = state.connected;
    state.connected = true;
    setLive(true, "live");
    if (again) reload(); // changes may have been missed while away; a restarted server numbers anew
  });
  source.addEventListener("gap", reload);
  source.addEventListener("change", (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch { return; }
    addEvent(ev, true);
  });
  source.onerror = () => setLive(false, "reconnecting…");
}

// ---- snapshots ------------------------------------------------------------------------------------

function confirmDialog(title, text, ok) {
  return new Promise((resolve) => {
    const d = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    d.returnValue = "cancel";
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.showModal();
  });
}

async function importFile() {
  const input = $("import-file");
  const file = input.files[0];
  input.value = "";
  if (!file) return;
  const yes = await confirmDialog("Import this snapshot?",
    `The world is replaced by the accounts of ${file.name}; the sessions of accounts that disappear end.`, "Import");
  if (!yes) return;
  const text = await file.text();
  try {
    const doc = await call("ref/world_import", '{"Snapshot":' + text + "}");
    toast(`Imported ${doc.Accounts} account${doc.Accounts === 1 ? "" : "s"}`);
  } catch (e) {
    toast("Not imported: " + e.message, true);
    return;
  }
  state.page = 0;
  state.cursors = [null];
  loadUsers();
}

async function resetWorld() {
  const yes = await confirmDialog("Reset the world?",
    "Every account, profile and status is removed and every live session ends. This cannot be undone.", "Reset");
  if (!yes) return;
  try {
    const doc = await call("ref/world_reset", {});
    toast(`Removed ${doc.Accounts} account${doc.Accounts === 1 ? "" : "s"}`);
  } catch (e) {
    toast("Not reset: " + e.message, true);
    return;
  }
  state.page = 0;
  state.cursors = [null];
  state.profile = null;
  $("detail").hidden = true;
  $("detail-empty").hidden = false;
  loadUsers();
}

async function addUser(ev) {
  ev.preventDefault();
  const id = $("add-id").value.trim();
  if (!id) return;
  try {
    await call("v4/im_open_login_svc/account_import", { UserID: id });
  } catch (e) {
    toast(`Cannot add ${id}: ${e.message}`, true);
    return;
  }
  $("add-id").value = "";
  toast(`Added ${id}`);
  await loadUsers();
  openUser(id);
}

// ---- start -----------------------------------------------------------------------------------------

async function start() {
  try {
    state.info = await getJSON("info");
  } catch (e) {
    setLive(false, "no access");
    toast(e.message, true);
    return;
  }
  $("app-id").textContent = "app " + state.info.AppID;
  let timer = null;
  $("search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.match = $("search").value;
      state.page = 0;
      state.cursors = [null];
      loadUsers();
    }, 200);
  });
  $("next").addEventListener("click", () => {
    if (state.next === null) return;
    state.cursors[state.page + 1] = state.next;
    state.page += 1;
    loadUsers();
  });
  $("prev").addEventListener("click", () => {
    if (state.page === 0) return;
    state.page -= 1;
    loadUsers();
  });
  $("export-status").addEventListener("change", (e) => {
    $("export").href = API + "export" + (e.target.checked ? "?status=1" : "");
  });
  $("import").addEventListener("click", () => $("import-file").click());
  $("import-file").addEventListener("change", importFile);
  $("reset").addEventListener("click", resetWorld);
  $("profile-form").addEventListener("submit", saveProfile);
  $("status-form").addEventListener("submit", applyStatus);
  $("add-user").addEventListener("submit", addUser);
  connect();
  await Promise.all([loadUsers(), loadTail()]);
  document.body.dataset.ready = "1";
}

start();
