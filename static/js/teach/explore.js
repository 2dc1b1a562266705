// What the convolution and pooling explorers share: stepping through output cells (buttons,
// arrow keys, play) and number formatting for hand-sized arithmetic.

/** 3 -> "3", -0.5 -> "-0.5", 1/3 -> "0.333", 1e-9 -> "0". */
export function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  const rounded = Math.round(v * 1000) / 1000;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

/** Which output cell is highlighted: step forwards and back (wrapping), jump, or play. */
export class Stepper {
  /**
   * @param {() => number} count       how many output cells there are now
   * @param {() => void} onChange      draws the highlighted cell
   * @param {HTMLButtonElement} playButton
   * @param {number} [delay]           ms between steps while playing
   */
  constructor(count, onChange, playButton, delay = 700) {
    this.count = count;
    this.onChange = onChange;
    this.playButton = playButton;
    this.delay = delay;
    this.index = 0;
    /** @type {number|null} */
    this.timer = null;
    playButton.addEventListener("click", () => this.toggle());
    document.addEventListener("keydown", (event) => {
      const target = /** @type {HTMLElement} */ (event.target);
      if (target.closest("input, select, textarea") || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "ArrowRight") this.step(1);
      else if (event.key === "ArrowLeft") this.step(-1);
      else return;
      event.preventDefault();
    });
  }

  /** @param {number} delta */
  step(delta) {
    const n = this.count();
    if (!n) return;
    this.index = (((this.index + delta) % n) + n) % n;
    this.onChange();
  }

  /** @param {number} index @param {boolean} [draw] */
  go(index, draw = true) {
    this.index = index;
    if (draw) this.onChange();
  }

  toggle() {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    } else {
      this.timer = setInterval(() => this.step(1), this.delay);
    }
    const playing = this.timer !== null;
    this.playButton.textContent = playing ? "Pause" : "Play";
    this.playButton.setAttribute("aria-pressed", String(playing));
  }
}
