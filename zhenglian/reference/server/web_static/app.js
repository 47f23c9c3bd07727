// 电子文件签署系统（机构端，演示）: task list, and 开始签名 through the local zhenglian client.
// Protocol: docs/bridge.md.  Every text from the server or the client goes in with textContent.
"use strict";

// The client's loopback ports: its default, then its fixed fallbacks (zhenglian/bridge/protocol.py).
const BRIDGE_PORTS = [21881, 21882, 21883, 21884];
const STATUS_ZH = { pending: "待签署", signed: "已签署", rejected: "已拒签" };
const STEP_ZH = {
  starting: "证联正在读取任务…",
  redeeming: "证联正在读取任务…",
  login: "请在证联窗口中输入 UKey 的 PIN，以登录签署服务器",
  preparing: "证联正在检查证书和印章…",
  confirming: "请在证联窗口中核对并点击“确认签章”",
  pin: "请在证联窗口中输入 UKey 的 PIN",
  signing: "正在签章…",
  uploading: "正在上传已签署的文件…",
};
const POLL_MS = 600;
const JOB_TIMEOUT_MS = 10 * 60 * 1000;

const $ = (id) => document.getElementById(id);
let institution = null;   // {uscc, name}
let client = null;        // {port, status}
let busy = false;

function ports() {
  const wanted = Number(new URLSearchParams(location.search).get("bridge_port"));
  const list = [...BRIDGE_PORTS];
  if (Number.isInteger(wanted) && wanted >= 1024 && wanted <= 65535 && !list.includes(wanted)) list.unshift(wanted);
  return list;
}

function bridgeUrl(port, path) {
  return `http://127.0.0.1:${port}${path}`;
}

async function fetchWithTimeout(url, options = {}, ms = 2000) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), ms);
  try {
    // targetAddressSpace: Chrome's Local Network Access (a public page asking a loopback service).
    return await fetch(url, { ...options, signal: ctrl.signal, targetAddressSpace: "loopback" });
  } finally {
    clearTimeout(timer);
  }
}

function showMessage(kind, zh, en, hint) {
  const box = $("message");
  box.hidden = false;
  box.className = kind;
  box.replaceChildren();
  const p = document.createElement("p");
  p.textContent = zh;
  box.append(p);
  if (hint) {
    const h = document.createElement("p");
    h.textContent = hint;
    box.append(h);
  }
  if (en) {
    const e = document.createElement("p");
    e.className = "note";
    e.textContent = en;
    box.append(e);
  }
}

// --- the local client ---------------------------------------------------------

// A busy computer can take seconds to answer on loopback: ask again, waiting longer each
// round, before telling the operator that no client is installed.
const DETECT_ROUNDS_MS = [2000, 5000, 10000];

async function findClient() {
  let found = { port: null, notAllowed: false };
  for (const ms of DETECT_ROUNDS_MS) {
    found = await findClientOnce(ms);
    if (found.port || found.notAllowed) return found;
  }
  return found;
}

async function findClientOnce(ms) {
  let somethingAnswered = false;
  for (const port of ports()) {
    try {
      const r = await fetchWithTimeout(bridgeUrl(port, "/v1/status"), {}, ms);
      if (r.ok) {
        const status = await r.json();
        if (status && status.app === "zhenglian" && status.installed) return { port, status };
      }
    } catch (_) {
      // Refused by CORS (this site is not allowed) or nothing listening: tell them apart.
      try {
        await fetchWithTimeout(bridgeUrl(port, "/v1/status"), { mode: "no-cors" }, ms);
        somethingAnswered = true;
      } catch (_) { /* nothing on this port */ }
    }
  }
  return { port: null, notAllowed: somethingAnswered };
}

async function detectClient() {
  const found = await findClient();
  $("install").hidden = true;
  $("not-allowed").hidden = true;
  if (found.port) {
    client = found;
    $("client-status").textContent = `已检测到证联客户端 ${found.status.version}（端口 ${found.port}）` +
      (found.status.key_present ? "，已插入 UKey" : "，未插入 UKey");
    return client;
  }
  client = null;
  if (found.notAllowed) {
    $("own-origin").textContent = location.origin;
    $("not-allowed").hidden = false;
    $("client-status").textContent = "证联客户端未允许本网站";
  } else {
    $("install").hidden = false;
    $("client-status").textContent = "未检测到证联客户端";
  }
  return null;
}

// --- the signing server (this site) ---------------------------------------------

async function api(path, options = {}) {
  const r = await fetch(path, options);
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (!r.ok) {
    const err = new Error((body && body.message_zh) || `HTTP ${r.status}`);
    err.body = body;
    throw err;
  }
  return body;
}

async function loadInstitutions() {
  const data = await api("/web/api/institutions");
  const select = $("institution");
  select.replaceChildren();
  for (const inst of data.institutions) {
    const o = document.createElement("option");
    o.value = inst.uscc;
    o.textContent = `${inst.name}（${inst.uscc}）`;
    o.dataset.name = inst.name;
    select.append(o);
  }
  return data.institutions;
}

function enter(inst) {
  institution = inst;
  sessionStorage.setItem("institution", JSON.stringify(inst));
  $("login").hidden = true;
  $("tasks").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = inst.name;
  return loadTasks();
}

async function loadTasks() {
  const q = new URLSearchParams({ institution: institution.uscc });
  const data = await api(`/web/api/tasks?${q}`);
  const rows = $("task-rows");
  rows.replaceChildren();
  for (const t of data.tasks) {
    const tr = document.createElement("tr");
    tr.dataset.taskId = t.id;
    const cells = [t.title, t.business_type, t.seal_type, t.deadline || ""];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const status = document.createElement("td");
    status.className = `status ${t.status}`;
    status.textContent = STATUS_ZH[t.status] || t.status;
    if (t.status === "signed" && t.signed_at) status.title = `签署时间 ${t.signed_at}`;
    tr.append(status);
    const action = document.createElement("td");
    if (t.status === "pending") {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "sign";
      b.textContent = "开始签名";
      b.disabled = busy;
      b.addEventListener("click", () => startSign(t));
      action.append(b);
    }
    tr.append(action);
    rows.append(tr);
  }
}

// --- 开始签名 -------------------------------------------------------------------

function setBusy(value) {
  busy = value;
  for (const b of document.querySelectorAll("button.sign")) b.disabled = value;
}

async function startSign(task) {
  if (busy) return;
  setBusy(true);
  try {
    showMessage("progress", "正在检测证联客户端…");
    const found = await detectClient();
    if (!found) {
      showMessage("error", "无法签章：未检测到可用的证联客户端。", "The zhenglian client was not found.");
      return;
    }
    showMessage("progress", "正在申请签署凭据…");
    const q = new URLSearchParams({ institution: institution.uscc });
    const ticket = await api(`/web/api/tasks/${encodeURIComponent(task.id)}/ticket?${q}`, { method: "POST" });
    showMessage("progress", "已交给证联客户端，请在证联窗口中确认并输入 PIN。");
    const r = await fetchWithTimeout(bridgeUrl(found.port, "/v1/sign"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ server: location.origin, taskId: task.id, ticket: ticket.ticket,
                             institution: institution.uscc }),
    }, 10000);
    const started = await r.json();
    if (r.status !== 202) {
      showMessage("error", started.message_zh || `证联拒绝了请求（${r.status}）`, started.message_en, started.hint_zh);
      return;
    }
    const job = await pollJob(found.port, started.job);
    if (job.state === "done") {
      const queued = job.result && job.result.status === "queued";
      showMessage("ok", queued ? `已签署“${job.title}”，文件正在等待上传（证联会自动上传）。`
                               : `已签署“${job.title}”。`,
                  queued ? "Signed; the file waits in the client's outbox." : "Signed.");
    } else {
      const e = job.error || {};
      showMessage("error", `未签署：${e.message_zh || "失败"}`, e.message_en, e.hint_zh);
    }
  } catch (err) {
    const body = err.body || {};
    showMessage("error", `出错：${body.message_zh || err.message}`, body.message_en);
  } finally {
    setBusy(false);
    await loadTasks().catch(() => {});
  }
}

async function pollJob(port, id) {
  const deadline = Date.now() + JOB_TIMEOUT_MS;
  let last = "";
  while (Date.now() < deadline) {
    let r;
    try {
      r = await fetchWithTimeout(bridgeUrl(port, `/v1/jobs/${encodeURIComponent(id)}`), {}, 5000);
    } catch (err) {
      if (err && err.name === "AbortError") {  // slow to answer this once: the job goes on, ask again
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      throw err;
    }
    const job = await r.json();
    if (!r.ok) throw Object.assign(new Error(job.message_zh || `HTTP ${r.status}`), { body: job });
    if (job.state !== "running") return job;
    if (job.step !== last) {
      last = job.step;
      showMessage("progress", STEP_ZH[job.step] || "处理中…", job.step);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return { state: "failed", error: { message_zh: "等待证联客户端超时", message_en: "timed out" } };
}

// --- start --------------------------------------------------------------------

async function main() {
  $("enter").addEventListener("click", () => {
    const o = $("institution").selectedOptions[0];
    if (o) enter({ uscc: o.value, name: o.dataset.name }).catch((e) => showMessage("error", e.message));
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem("institution");
    location.reload();
  });
  $("refresh").addEventListener("click", () => loadTasks().catch((e) => showMessage("error", e.message)));
  const institutions = await loadInstitutions();
  const saved = JSON.parse(sessionStorage.getItem("institution") || "null");
  if (saved && institutions.some((i) => i.uscc === saved.uscc)) await enter(saved);
  await detectClient();
}

main().catch((e) => showMessage("error", `页面加载失败：${e.message}`));
