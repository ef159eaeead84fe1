// The sandbox page: draws the world the server sends (server-sent events) and posts what
// people do to /api/act. Plain JavaScript, no build step, nothing from the network.
"use strict";

let world = null;
const replyTo = { "tg-resident": null, staff: null };
let attachTarget = null;

const $ = (selector, root = document) => root.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
};

function staffUser() {
  return world.staff.people.find((p) => p.key === $("#operator").value) || world.staff.people[0];
}

async function act(action, pane) {
  const busy = document.body.classList;
  busy.add("busy");
  try {
    const response = await fetch("api/act", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(action),
    });
    const result = await response.json();
    if (!response.ok) {
      toast(pane, result.error || "That did not work", true);
      return null;
    }
    if (result.answer && result.answer.text) {
      if (result.answer.alert) showAlert(result.answer.text);
      else toast(pane, result.answer.text);
    }
    return result;
  } finally {
    busy.remove("busy");
  }
}

function toast(pane, text, error = false) {
  const box = $(`#${pane} .toast`) || $("#tg-resident .toast");
  box.textContent = text;
  box.classList.toggle("error", error);
  box.hidden = false;
  clearTimeout(box.timer);
  box.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

function showAlert(text) {
  const dialog = $("#alert");
  $(".text", dialog).textContent = text;
  dialog.showModal();
}

// ---------------------------------------------------------------- Telegram panes

function telegramMessage(message, paneId, viewerId, chatId) {
  const mine = message.from_id === viewerId;
  const bubble = el("div", {
    class: `msg ${mine ? "mine" : "theirs"}${message.is_bot ? " bot" : ""}`,
    "data-id": message.id,
  });
  if (message.service) {
    return el("div", { class: "row service", "data-id": message.id }, el("div", { class: "service" }, message.service));
  }
  if (!mine) bubble.append(el("div", { class: "sender" }, message.is_bot ? "15-80 bot" : message.from));
  if (message.thread && paneId === "staff" && !$("#topic").value) {
    const topic = world.staff.topics.find((t) => t.id === message.thread);
    if (topic) bubble.append(el("div", { class: "topic" }, `# ${topic.name}`));
  }
  if (message.reply_to) {
    bubble.append(el("div", { class: "quote" },
      el("b", {}, message.reply_to.from || ""), " ", message.reply_to.text));
  }
  if (message.photo) bubble.append(el("img", { class: "photo", src: message.photo, alt: "photo" }));
  if (message.attachment) {
    const icons = { video: "🎬", document: "📄", sticker: "🙂", voice: "🎤" };
    bubble.append(el("div", { class: "attachment" }, `${icons[message.attachment] || "📎"} ${message.attachment}`));
  }
  if (message.location) {
    bubble.append(el("div", { class: "location" },
      `📍 ${message.location.latitude.toFixed(5)}, ${message.location.longitude.toFixed(5)}`));
  }
  if (message.contact) bubble.append(el("div", { class: "contact" }, `📞 ${message.contact}`));
  if (message.text) bubble.append(el("div", { class: "text" }, message.text));
  const meta = el("div", { class: "meta" });
  if (message.edited) meta.append(el("span", { class: "edited" }, "edited "));
  meta.append(el("button", {
    type: "button", class: "reply-btn", title: "Reply", "aria-label": "Reply",
    onclick: () => setReply(paneId, message),
  }, "↩"));
  bubble.append(meta);
  const wrap = el("div", { class: "row" }, bubble);
  if (message.buttons.length) {
    const keyboard = el("div", { class: "inline-kb" });
    for (const row of message.buttons) {
      keyboard.append(el("div", { class: "kb-row" }, row.map((button) => button.data
        ? el("button", {
          type: "button", "data-callback": button.data,
          onclick: () => press(paneId, chatId, message.id, button.data),
        }, button.text)
        : el("a", { href: button.url, target: "_blank", rel: "noreferrer" }, `${button.text} ↗`))));
    }
    wrap.append(keyboard);
  }
  return wrap;
}

function press(paneId, chatId, messageId, data) {
  const who = paneId === "staff" ? staffUser().key : world.resident.key;
  return act({ do: "tg.press", as: who, chat: chatId, message: messageId, data }, paneId);
}

function setReply(paneId, message) {
  replyTo[paneId] = message.id;
  const bar = $(`#${paneId} .replying`);
  $("span", bar).textContent = `Replying to: ${(message.text || "[media]").slice(0, 60)}`;
  bar.hidden = false;
  bar.dataset.id = message.id;
  $(`#${paneId} input[name=text]`).focus();
}

function clearReply(paneId) {
  replyTo[paneId] = null;
  $(`#${paneId} .replying`).hidden = true;
}

function drawMessages(container, nodes) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  container.replaceChildren(...nodes);
  if (atBottom) container.scrollTop = container.scrollHeight;
}

function drawTelegram() {
  const resident = world.resident;
  const chat = world.telegram[String(resident.id)];
  $("#tg-resident-name").textContent = `(${resident.name})`;
  drawMessages($("#tg-resident .messages"),
    chat.messages.map((m) => telegramMessage(m, "tg-resident", resident.id, resident.id)));
  const keyboard = $("#tg-resident .kb");
  keyboard.replaceChildren(...(chat.keyboard || []).map((row) => el("div", { class: "kb-row" },
    row.map((button) => el("button", {
      type: "button",
      "data-kind": button.contact ? "contact" : button.location ? "location" : "text",
      onclick: () => replyKeyboard(button),
    }, button.text)))));

  const staff = world.telegram[String(world.staff.chat)];
  const select = $("#operator");
  if (!select.options.length) {
    for (const person of world.staff.people) {
      select.append(el("option", { value: person.key },
        person.role === "stranger" ? `${person.name} (not a member)` : `${person.name} (operator)`));
    }
  }
  const topics = $("#topic");
  for (const topic of world.staff.topics) {
    if (!topics.querySelector(`option[value="${topic.id}"]`)) {
      topics.append(el("option", { value: topic.id }, `# ${topic.name}`));
    }
  }
  const shown = Number(topics.value) || null;
  const viewer = staffUser();
  drawMessages($("#staff .messages"), staff.messages
    .filter((m) => shown === null || m.thread === shown)
    .map((m) => telegramMessage(m, "staff", viewer.id, world.staff.chat)));
}

function replyKeyboard(button) {
  const who = world.resident.key;
  if (button.contact) {
    if (confirm("Share your phone number with the bot?")) act({ do: "tg.contact", as: who }, "tg-resident");
  } else if (button.location) {
    openAttach("tg-resident", { photos: false });
  } else {
    act({ do: "tg.text", as: who, text: button.text }, "tg-resident");
  }
}

// ------------------------------------------------------------------- Viber pane

function drawViber() {
  const viber = world.viber;
  $("#viber-name").textContent = `(${viber.name})`;
  $("#viber-resident .open-chat").hidden = viber.messages.length > 0;
  drawMessages($("#viber-resident .messages"), viber.messages.map((m, index) => {
    const bubble = el("div", { class: `msg ${m.from === "user" ? "mine" : "theirs bot"}`, "data-index": index });
    if (m.media && m.type === "picture") bubble.append(el("img", { class: "photo", src: m.media, alt: "picture" }));
    else if (m.type !== "text" && m.type !== "location" && m.type !== "contact") {
      bubble.append(el("div", { class: "attachment" }, `[${m.type}]`));
    }
    if (m.location) bubble.append(el("div", { class: "location" }, `📍 ${m.location.lat}, ${m.location.lon}`));
    if (m.contact) bubble.append(el("div", { class: "contact" }, `📞 ${m.contact}`));
    if (m.text) bubble.append(el("div", { class: "text" }, m.text));
    return el("div", { class: "row" }, bubble);
  }));
  $("#viber-resident .kb").replaceChildren(...viber.buttons.map((button) => el("button", {
    type: "button", "data-body": button.body, "data-kind": button.type,
    onclick: () => viberButton(button),
  }, button.text || button.body)));
}

function viberButton(button) {
  if (button.type === "location-picker") openAttach("viber-resident", { photos: false });
  else if (button.type === "open-url") window.open(button.body, "_blank", "noreferrer");
  else if (button.type !== "none") act({ do: "viber.press", body: button.body }, "viber-resident");
}

// ----------------------------------------------------------- attach: photo, place

function openAttach(paneId, { photos = true, places = true } = {}) {
  attachTarget = paneId;
  const dialog = $("#attach");
  dialog.querySelectorAll(".samples, .samples + p, .places").forEach((n) => { n.hidden = false; });
  $(".samples", dialog).hidden = !photos;
  $(".more-media", dialog).hidden = !photos;
  $(".send-album", dialog).hidden = paneId === "viber-resident";
  $(".album-sample", dialog).hidden = paneId === "viber-resident";
  $(".places", dialog).hidden = !places;
  dialog.showModal();
}

function sendPhoto(sample) {
  $("#attach").close();
  if (attachTarget === "viber-resident") return act({ do: "viber.photo", sample }, attachTarget);
  const staff = attachTarget === "staff";
  const action = {
    do: "tg.photo", as: staff ? staffUser().key : world.resident.key, sample,
    chat: staff ? world.staff.chat : world.resident.id,
  };
  if (replyTo[attachTarget]) action.reply_to = replyTo[attachTarget];
  const input = $(`#${attachTarget} input[name=text]`);
  if (input.value.trim()) { action.caption = input.value.trim(); input.value = ""; }
  clearReply(attachTarget);
  return act(action, attachTarget);
}

function sendVideo() {
  $("#attach").close();
  if (attachTarget === "viber-resident") return act({ do: "viber.video" }, attachTarget);
  const staff = attachTarget === "staff";
  const action = {
    do: "tg.video", as: staff ? staffUser().key : world.resident.key,
    chat: staff ? world.staff.chat : world.resident.id,
  };
  if (replyTo[attachTarget]) action.reply_to = replyTo[attachTarget];
  clearReply(attachTarget);
  return act(action, attachTarget);
}

function sendAlbum() {
  $("#attach").close();
  const staff = attachTarget === "staff";
  return act({
    do: "tg.album", as: staff ? staffUser().key : world.resident.key, count: 2,
    sample: $("#attach .album-sample").value, chat: staff ? world.staff.chat : world.resident.id,
  }, attachTarget);
}

function sendPlace(lat, lon) {
  $("#attach").close();
  if (Number.isNaN(lat) || Number.isNaN(lon)) return toast(attachTarget, "Type two numbers", true);
  if (attachTarget === "viber-resident") return act({ do: "viber.location", lat, lon }, attachTarget);
  const staff = attachTarget === "staff";
  return act({
    do: "tg.location", as: staff ? staffUser().key : world.resident.key, lat, lon,
    chat: staff ? world.staff.chat : world.resident.id,
  }, attachTarget);
}

function drawAttach() {
  const dialog = $("#attach");
  if ($(".samples", dialog).children.length) return;
  $(".samples", dialog).append(...world.samples.map((s) => el("button", {
    type: "button", "data-sample": s.name, onclick: () => sendPhoto(s.name),
  }, el("img", { src: `samples/${s.name}.png`, alt: "" }), el("span", {}, s.title))));
  $(".places", dialog).append(...world.places.map((p) => el("button", {
    type: "button", "data-place": p.name, onclick: () => sendPlace(p.lat, p.lon),
  }, `📍 ${p.name}`)));
  $(".album-sample", dialog).append(...world.samples.map((s) => el("option", { value: s.name }, s.title)));
  $(".send-video", dialog).addEventListener("click", sendVideo);
  $(".send-album", dialog).addEventListener("click", sendAlbum);
  $(".send-coords", dialog).addEventListener("click", () => {
    sendPlace(parseFloat(dialog.querySelector("[name=lat]").value),
      parseFloat(dialog.querySelector("[name=lon]").value));
  });
}

// ------------------------------------------------------------------------ wiring

function draw() {
  if (!world || !world.ready) return;
  $("#clock").textContent = world.clock.replace("T", " ").replace(/([+-]\d\d:\d\d)$/, " (UTC$1)");
  $("#offset").textContent = world.offset_hours ? `(real time + ${world.offset_hours} h)` : "(real time)";
  $("#steps").textContent = world.steps;
  drawAttach();
  drawTelegram();
  drawViber();
  document.body.dataset.generation = world.generation;
  document.body.dataset.steps = world.steps;
}

function wire() {
  $("#tg-resident .composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = event.target.elements.text;
    if (!input.value.trim()) return;
    const action = { do: "tg.text", as: world.resident.key, text: input.value };
    if (replyTo["tg-resident"]) action.reply_to = replyTo["tg-resident"];
    input.value = "";
    clearReply("tg-resident");
    act(action, "tg-resident");
  });
  $("#staff .composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = event.target.elements.text;
    if (!input.value.trim()) return;
    const action = { do: "tg.text", as: staffUser().key, chat: world.staff.chat, text: input.value };
    if ($("#topic").value && !replyTo.staff) action.thread = Number($("#topic").value);
    if (replyTo.staff) action.reply_to = replyTo.staff;
    input.value = "";
    clearReply("staff");
    act(action, "staff");
  });
  $("#viber-resident .composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = event.target.elements.text;
    if (!input.value.trim()) return;
    act({ do: "viber.text", text: input.value }, "viber-resident");
    input.value = "";
  });
  $("#tg-resident .attach").addEventListener("click", () => openAttach("tg-resident"));
  $("#staff .attach").addEventListener("click", () => openAttach("staff", { places: false }));
  $("#viber-resident .attach").addEventListener("click", () => openAttach("viber-resident"));
  $("#viber-resident .open-chat").addEventListener("click", () => act({ do: "viber.open" }, "viber-resident"));
  for (const pane of ["tg-resident", "staff"]) {
    $(`#${pane} .cancel-reply`).addEventListener("click", () => clearReply(pane));
  }
  $("#operator").addEventListener("change", () => { clearReply("staff"); draw(); });
  $("#topic").addEventListener("change", () => draw());
  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", () => act({ do: "clock", hours: Number(button.dataset.advance) }, "staff"));
  }
  $("#reset").addEventListener("click", async () => {
    if (!confirm("Forget every appeal and chat and start again?")) return;
    $("#topic").replaceChildren(el("option", { value: "" }, "All topics"));
    clearReply("tg-resident");
    clearReply("staff");
    await fetch("api/reset", { method: "POST" });
  });
  const events = new EventSource("api/events");
  events.onmessage = (event) => {
    world = JSON.parse(event.data);
    draw();
  };
}

wire();
