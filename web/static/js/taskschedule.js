// The task editor's schedule fields: recurrence (a rule or phrase, its next occurrences previewed by the server
// before it is saved) and reminders (minutes before due: preset chips plus a custom amount).

import { dayKey, formatDay, formatWhen, timeKey } from "./dates.js";
import { debounce, el, setMessage } from "./dom.js";
import { edited, errorSlot, escapeReverts, onEnter, sync } from "./fields.js";

const PREVIEW_DELAY_MS = 300;
const PREVIEW_COUNT = 3;
const REMINDER_PRESETS = [0, 10, 60, 1440];
const UNITS = [["minutes", 1], ["hours", 60], ["days", 1440]];

/** "At due time", "10 min", "1 hour", "2 days", "90 min". */
function reminderLabel(minutes) {
  if (minutes === 0) return "At due time";
  if (minutes % 1440 === 0) return minutes === 1440 ? "1 day" : `${minutes / 1440} days`;
  if (minutes % 60 === 0) return minutes === 60 ? "1 hour" : `${minutes / 60} hours`;
  return `${minutes} min`;
}

/**
 * Recurrence: typing previews the next occurrences (GET /api/v1/recurrence/preview, from the task's due);
 * Enter or Set saves the rule once its preview succeeded; Clear stops the repeat.
 */
export function recurrenceField(ctx, save) {
  let current = null;
  let seq = 0; // answers of older previews are dropped
  const input = el("input", { type: "text", class: "task-recurrence-input", autocomplete: "off",
    placeholder: "every monday at 9, weekdays, every 2 weeks" });
  const set = el("button", { type: "button", class: "task-recurrence-set", "aria-label": "Save the repeat rule" }, "Set");
  const clear = el("button", { type: "button", class: "task-recurrence-clear", "aria-label": "Stop repeating" }, "Clear");
  const preview = el("p", { class: "task-recurrence-preview", "aria-live": "polite" });
  const error = errorSlot(input);
  const start = () => current?.due_at || current?.due_date || undefined;
  // An all-day task's occurrences are whole days (the server answers them as local midnights).
  const occurrenceText = (iso) => {
    const zone = ctx.timeZone();
    const at = new Date(iso);
    return current?.all_day && timeKey(at, zone) === "00:00" ? formatDay(dayKey(at, zone), zone) : formatWhen(iso, zone);
  };

  /** Show the rule's next occurrences (or why it cannot be read); answers whether the rule is valid. */
  const showPreview = async (rule) => {
    const mine = ++seq;
    if (!rule) {
      preview.textContent = "";
      setMessage(error, "");
      return false;
    }
    try {
      const result = await ctx.preview(rule, start());
      if (mine === seq) {
        preview.textContent = `Next: ${result.occurrences.map((o) => occurrenceText(o)).join(" · ")}`;
        setMessage(error, "");
        input.removeAttribute("aria-invalid");
      }
      return true;
    } catch (err) {
      if (mine === seq) {
        preview.textContent = "";
        setMessage(error, err.detail || "Could not preview that rule.");
        input.setAttribute("aria-invalid", "true");
      }
      return false;
    }
  };
  const previewSoon = debounce(() => showPreview(input.value.trim()), PREVIEW_DELAY_MS);
  input.addEventListener("input", previewSoon);

  const saveRule = async () => {
    const rule = input.value.trim();
    if (!rule || rule === (current.recurrence?.rule || "")) return;
    previewSoon.cancel();
    if (!(await showPreview(rule)) || input.value.trim() !== rule) return;
    const { mode = "due", until = null, count = null } = current.recurrence || {};
    await save({ recurrence: { rule, mode, until, count } }, error, input);
  };
  onEnter(input, saveRule);
  set.addEventListener("click", saveRule);
  escapeReverts(input, () => showPreview(input.value.trim()));
  clear.addEventListener("click", () => save({ recurrence: null }, error, input));

  const node = el("fieldset", { class: "editor-group task-recurrence-field" },
    el("legend", { class: "field-label" }, "Repeats"),
    el("div", { class: "editor-inline" },
      el("label", { class: "grow" }, el("span", { class: "visually-hidden" }, "Repeat rule"), input), set, clear),
    preview, error);
  return {
    node,
    refresh(task) {
      const before = current ? [current.recurrence?.rule || "", start()] : null;
      current = task;
      const rule = task.recurrence?.rule || "";
      sync(input, rule);
      clear.disabled = !rule;
      // The saved rule's next occurrences, again when the rule or the due moved (not while another is typed).
      const moved = !before || before[0] !== rule || before[1] !== start();
      if (moved && !edited(input)) showPreview(rule);
    },
  };
}

/** Reminders: toggle chips for the usual offsets, a custom amount in minutes, hours or days, and a remove per chip. */
export function reminderField(save) {
  let current = null;
  const amount = el("input", { type: "number", min: "1", step: "1", inputmode: "numeric", class: "reminder-amount",
    "aria-label": "Custom reminder: how long before due" });
  const unit = el("select", { class: "reminder-unit", "aria-label": "Unit of the custom reminder" },
    UNITS.map(([name, minutes]) => el("option", { value: String(minutes) }, name)));
  const add = el("button", { type: "button", class: "reminder-add", "aria-label": "Add the custom reminder" }, "Add");
  const custom = el("span", { class: "chips" });
  const hint = el("p", { class: "hint" }, "Reminders ring once the task has a due.");
  const error = errorSlot(amount);
  const saveOffsets = (offsets) => save({ reminders: [...new Set(offsets)].sort((a, b) => a - b) }, error, amount);

  const presets = REMINDER_PRESETS.map((minutes) => el("button", {
    type: "button", class: "chip", "aria-pressed": "false", dataset: { minutes },
    on: {
      click: () => {
        const offsets = current.reminders || [];
        saveOffsets(offsets.includes(minutes) ? offsets.filter((m) => m !== minutes) : [...offsets, minutes]);
      },
    },
  }, reminderLabel(minutes)));

  const addCustom = async () => {
    const n = Number(amount.value);
    if (!amount.value || !Number.isInteger(n) || n < 1) {
      setMessage(error, "Type a whole number of minutes, hours or days before due.");
      return;
    }
    const answer = await saveOffsets([...(current.reminders || []), n * Number(unit.value)]);
    if (answer.task) amount.value = "";
  };
  add.addEventListener("click", addCustom);
  onEnter(amount, addCustom);

  const node = el("fieldset", { class: "editor-group task-reminders-field" },
    el("legend", { class: "field-label" }, "Remind me before due"),
    el("div", { class: "chips" }, presets, custom),
    el("div", { class: "editor-inline" }, amount, unit, add),
    hint, error);
  return {
    node,
    refresh(task) {
      current = task;
      const offsets = task.reminders || [];
      for (const chip of presets) chip.setAttribute("aria-pressed", String(offsets.includes(Number(chip.dataset.minutes))));
      custom.replaceChildren(...offsets.filter((m) => !REMINDER_PRESETS.includes(m)).map((minutes) => {
        const label = reminderLabel(minutes);
        const remove = el("button", { type: "button", class: "chip-remove", "aria-label": `Remove the reminder ${label} before due`,
          on: { click: () => { amount.focus(); saveOffsets(offsets.filter((m) => m !== minutes)); } } }, "×");
        return el("span", { class: "chip custom", dataset: { minutes } }, label, remove);
      }));
      hint.hidden = Boolean(task.due_at || task.due_date);
    },
  };
}
