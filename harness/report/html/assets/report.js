// chatstorm's report page: draws the charts (Plotly, inlined above) and shows the sampled
// conversations as chats. Every text from the run goes in as text, never as markup.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("chatstorm-data").textContent);

  function el(tag, css, text) {
    const node = document.createElement(tag);
    if (css) node.className = css;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function drawCharts() {
    const grid = document.getElementById("charts");
    for (const chart of DATA.charts) {
      const card = el("section", "card");
      card.id = "card-" + chart.id;
      const plot = el("div", "chart");
      plot.dataset.chart = chart.id;
      card.append(el("h3", null, chart.title), el("p", "note", chart.note), plot);
      grid.append(card);
      Plotly.newPlot(plot, chart.data, chart.layout, {
        displaylogo: false,
        responsive: true,
      }).then(function () {
        plot.dataset.drawn = "true";
      });
    }
  }

  const chats = DATA.chats;
  const filters = {
    scenario: document.getElementById("filter-scenario"),
    outcome: document.getElementById("filter-outcome"),
    failed: document.getElementById("filter-failed"),
  };

  function options(select, values) {
    select.append(new Option("all", ""));
    for (const value of values) select.append(new Option(value, value));
  }

  function mark(success) {
    if (success === true) return el("span", "mark pass", "✓");
    if (success === false) return el("span", "mark fail", "✗");
    return el("span", "mark none", "·");
  }

  function listChats() {
    const list = document.getElementById("chat-list");
    list.replaceChildren();
    const shown = chats.conversations.filter(function (c) {
      return (
        (!filters.scenario.value || c.scenario === filters.scenario.value) &&
        (!filters.outcome.value || (c.outcome || "none") === filters.outcome.value) &&
        (!filters.failed.checked || c.success === false)
      );
    });
    for (const conversation of shown) {
      const item = el("li");
      item.dataset.conversation = conversation.id;
      const top = el("div");
      top.append(mark(conversation.success), el("span", "id", conversation.id));
      const sub = el(
        "div",
        "sub",
        [conversation.persona, conversation.outcome || conversation.end_reason]
          .filter(Boolean)
          .join(" · "),
      );
      item.append(top, sub);
      item.addEventListener("click", function () {
        for (const other of list.children) other.classList.remove("open");
        item.classList.add("open");
        openChat(conversation);
      });
      list.append(item);
    }
    if (!shown.length) list.append(el("li", "sub", "no conversation matches"));
  }

  function facts(pairs) {
    const dl = el("dl", "facts");
    for (const [key, value] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      const row = el("div");
      row.append(el("dt", null, key), el("dd", null, value));
      dl.append(row);
    }
    return dl;
  }

  function verdictChip(evaluation) {
    const chip = el("div", "verdict-chip " + evaluation.verdict);
    chip.append(el("b", null, evaluation.name + ": " + evaluation.verdict));
    if (evaluation.score !== null && evaluation.score !== undefined) {
      chip.append(document.createTextNode(" (" + evaluation.score + ")"));
    }
    if (evaluation.detail) chip.append(el("span", "why", evaluation.detail));
    return chip;
  }

  function bubble(message) {
    if (message.action) return el("div", "action", "agent is " + message.action + "…");
    const node = el("div", "bubble " + message.role + (message.premature ? " premature" : ""));
    node.append(document.createTextNode(message.text + (message.cut ? " […]" : "")));
    if (message.premature) node.append(el("span", "badge", "premature"));
    if (message.edit) node.append(el("span", "badge edit", "edited"));
    const pause = message.pause_s === null ? "" : " · after " + message.pause_s.toFixed(2) + " s";
    node.append(el("span", "meta", message.time + pause));
    return node;
  }

  function turnTitle(messages) {
    const sent = messages.filter((m) => m.role === "client" && !m.action).length;
    const replies = messages.filter((m) => m.role === "agent" && !m.action && !m.edit);
    const premature = replies.filter((m) => m.premature).length;
    let title = "burst of " + sent + " · reply: " + replies.length + " message(s)";
    if (premature) title += " · " + premature + " premature";
    return title;
  }

  function openChat(conversation) {
    const view = document.getElementById("chat-view");
    view.replaceChildren();
    const head = el("div", "chat-head");
    head.append(
      el("h3", null, conversation.id),
      facts([
        ["scenario", conversation.scenario],
        ["persona", conversation.persona],
        ["personality", conversation.personality],
        ["outcome", conversation.outcome],
        ["success", conversation.success === null ? null : conversation.success ? "yes" : "no"],
        ["ended", conversation.end_reason],
        ["score", conversation.score],
        ["goals", conversation.goals],
        ["blame", conversation.blame],
        ["error", conversation.error],
      ]),
    );
    view.append(head);
    const turns = new Map();
    for (const message of conversation.messages) {
      if (!turns.has(message.turn)) turns.set(message.turn, []);
      turns.get(message.turn).push(message);
    }
    if (!turns.size) {
      view.append(
        el("p", "note", chats.has_transcripts ? "no messages" : "this run wrote no transcripts"),
      );
    }
    for (const [turn, messages] of turns) {
      const block = el("div", "turn");
      block.dataset.turn = turn;
      block.append(el("div", "turn-title", "turn " + (turn + 1) + " · " + turnTitle(messages)));
      const bubbles = el("div", "bubbles");
      for (const message of messages) bubbles.append(bubble(message));
      const verdicts = el("div", "verdicts");
      for (const evaluation of conversation.evaluations) {
        if (evaluation.scope === "turn" && evaluation.turn === turn) {
          verdicts.append(verdictChip(evaluation));
        }
      }
      block.append(bubbles, verdicts);
      view.append(block);
    }
    const finals = conversation.evaluations.filter((e) => e.scope !== "turn");
    if (finals.length) {
      const final = el("div", "final");
      final.append(el("h3", null, "Final evaluations"));
      for (const evaluation of finals) final.append(verdictChip(evaluation));
      view.append(final);
    }
  }

  function setUpChats() {
    const conversations = chats.conversations;
    const scenarios = [...new Set(conversations.map((c) => c.scenario))].sort();
    const outcomes = [...new Set(conversations.map((c) => c.outcome || "none"))].sort();
    options(filters.scenario, scenarios);
    options(filters.outcome, outcomes);
    for (const select of Object.values(filters)) select.addEventListener("change", listChats);
    const count = document.getElementById("chat-count");
    count.textContent =
      conversations.length === chats.total
        ? conversations.length + " conversations."
        : "Showing " +
          conversations.length.toLocaleString("en") +
          " of " +
          chats.total.toLocaleString("en") +
          " conversations: a sample, every scenario alike, failed ones first.";
    listChats();
  }

  drawCharts();
  setUpChats();
})();
