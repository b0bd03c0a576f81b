/**
 * The absence timers of one partition: a pool of typed arrays (due time, trigger time, slot, rule
 * index) with the trigger event id and customer id in parallel arrays, ordered by a binary
 * min-heap on due time with a position index (so a cancelled timer leaves the heap at once), and
 * linked per slot (so a slot's timers are found without a scan). A timer is an integer id into
 * the pool; ids are reused after removal. No host timers: the rule engine pops due timers.
 */

export const NO_TIMER = -1;

const growF64 = (a: Float64Array, n: number) => {
  const b = new Float64Array(n);
  b.set(a);
  return b;
};
const growI32 = (a: Int32Array, n: number, fill = 0) => {
  const b = new Int32Array(n).fill(fill);
  b.set(a);
  return b;
};

export class AbsenceTimers {
  #cap = 0;
  #freeHead = NO_TIMER;
  #due = new Float64Array(0);
  #trig = new Float64Array(0);
  #slot = new Int32Array(0);
  #rule = new Uint16Array(0);
  #next = new Int32Array(0);
  #prev = new Int32Array(0);
  #pos = new Int32Array(0);
  #eventId: string[] = [];
  #customer: string[] = [];
  #heap = new Int32Array(0);
  #size = 0;
  /** First timer of each slot, NO_TIMER when none. */
  #head = new Int32Array(0);

  /** Timers pending. */
  get size(): number {
    return this.#size;
  }

  /** The timer due first, or NO_TIMER. */
  peek(): number {
    return this.#size === 0 ? NO_TIMER : this.#heap[0]!;
  }

  due(t: number): number {
    return this.#due[t]!;
  }
  trigger(t: number): number {
    return this.#trig[t]!;
  }
  slot(t: number): number {
    return this.#slot[t]!;
  }
  rule(t: number): number {
    return this.#rule[t]!;
  }
  eventId(t: number): string {
    return this.#eventId[t]!;
  }
  customer(t: number): string {
    return this.#customer[t]!;
  }

  /** First timer of `slot` (NO_TIMER when none); follow with {@link nextInSlot}. */
  first(slot: number): number {
    return slot < this.#head.length ? this.#head[slot]! : NO_TIMER;
  }
  nextInSlot(t: number): number {
    return this.#next[t]!;
  }

  /** The timer of (slot, rule) armed by `eventId`, or NO_TIMER. */
  find(slot: number, rule: number, eventId: string): number {
    for (let t = this.first(slot); t !== NO_TIMER; t = this.#next[t]!) {
      if (this.#rule[t] === rule && this.#eventId[t] === eventId) return t;
    }
    return NO_TIMER;
  }

  add(slot: number, rule: number, customerId: string, eventId: string, trigger: number, due: number): number {
    if (slot >= this.#head.length) {
      let n = Math.max(64, this.#head.length);
      while (n <= slot) n *= 2;
      this.#head = growI32(this.#head, n, NO_TIMER);
    }
    if (this.#freeHead === NO_TIMER) this.#grow();
    const t = this.#freeHead;
    this.#freeHead = this.#next[t]!;
    this.#due[t] = due;
    this.#trig[t] = trigger;
    this.#slot[t] = slot;
    this.#rule[t] = rule;
    this.#eventId[t] = eventId;
    this.#customer[t] = customerId;
    const head = this.#head[slot]!;
    this.#prev[t] = NO_TIMER;
    this.#next[t] = head;
    if (head !== NO_TIMER) this.#prev[head] = t;
    this.#head[slot] = t;
    const i = this.#size++;
    this.#heap[i] = t;
    this.#pos[t] = i;
    this.#siftUp(i);
    return t;
  }

  remove(t: number): void {
    const prev = this.#prev[t]!;
    const next = this.#next[t]!;
    if (prev === NO_TIMER) this.#head[this.#slot[t]!] = next;
    else this.#next[prev] = next;
    if (next !== NO_TIMER) this.#prev[next] = prev;
    const i = this.#pos[t]!;
    const last = this.#heap[--this.#size]!;
    if (i < this.#size) {
      this.#heap[i] = last;
      this.#pos[last] = i;
      this.#siftDown(i);
      this.#siftUp(this.#pos[last]!);
    }
    this.#eventId[t] = '';
    this.#customer[t] = '';
    this.#next[t] = this.#freeHead;
    this.#freeHead = t;
  }

  /** Removes every timer of `slot`. */
  removeSlot(slot: number): void {
    for (let t = this.first(slot); t !== NO_TIMER; ) {
      const next = this.#next[t]!;
      this.remove(t);
      t = next;
    }
  }

  /** Moves the timers of `from` to `to`, which must have none. */
  moveSlot(from: number, to: number): void {
    const head = this.first(from);
    if (head === NO_TIMER) return;
    if (to >= this.#head.length) {
      let n = this.#head.length;
      while (n <= to) n *= 2;
      this.#head = growI32(this.#head, n, NO_TIMER);
    }
    for (let t = head; t !== NO_TIMER; t = this.#next[t]!) this.#slot[t] = to;
    this.#head[to] = head;
    this.#head[from] = NO_TIMER;
  }

  /** Pending timers in firing order. */
  ordered(): number[] {
    return Array.from(this.#heap.subarray(0, this.#size)).sort((a, b) => this.#cmp(a, b));
  }

  #grow(): void {
    const old = this.#cap;
    const cap = Math.max(64, old * 2);
    this.#due = growF64(this.#due, cap);
    this.#trig = growF64(this.#trig, cap);
    this.#slot = growI32(this.#slot, cap);
    const rule = new Uint16Array(cap);
    rule.set(this.#rule);
    this.#rule = rule;
    this.#next = growI32(this.#next, cap);
    this.#prev = growI32(this.#prev, cap);
    this.#pos = growI32(this.#pos, cap);
    this.#heap = growI32(this.#heap, cap);
    for (let t = cap - 1; t >= old; t--) {
      this.#next[t] = this.#freeHead;
      this.#freeHead = t;
    }
    for (let t = old; t < cap; t++) {
      this.#eventId.push('');
      this.#customer.push('');
    }
    this.#cap = cap;
  }

  /** Due time, then rule, event id and customer: a total order, so a restored heap fires alike. */
  #cmp(a: number, b: number): number {
    const d = this.#due[a]! - this.#due[b]!;
    if (d !== 0) return d;
    const r = this.#rule[a]! - this.#rule[b]!;
    if (r !== 0) return r;
    const ea = this.#eventId[a]!;
    const eb = this.#eventId[b]!;
    if (ea !== eb) return ea < eb ? -1 : 1;
    const ca = this.#customer[a]!;
    const cb = this.#customer[b]!;
    return ca < cb ? -1 : ca > cb ? 1 : 0;
  }

  #swap(i: number, j: number): void {
    const a = this.#heap[i]!;
    const b = this.#heap[j]!;
    this.#heap[i] = b;
    this.#heap[j] = a;
    this.#pos[b] = i;
    this.#pos[a] = j;
  }

  #siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#cmp(this.#heap[i]!, this.#heap[parent]!) >= 0) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.#size) return;
      const r = l + 1;
      const c = r < this.#size && this.#cmp(this.#heap[r]!, this.#heap[l]!) < 0 ? r : l;
      if (this.#cmp(this.#heap[c]!, this.#heap[i]!) >= 0) return;
      this.#swap(i, c);
      i = c;
    }
  }
}
