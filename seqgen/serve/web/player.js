// Audio for one music sample through Web Audio: one buffer per voice (the server's stems) or the
// whole mix, played in step so voices can be muted or soloed, looped, and followed by a playhead.

export class Player {
  // `urls`: one WAV per voice, or the mix alone; `onTime(seconds)` is called every frame it plays.
  constructor(urls, onTime) {
    this.urls = urls;
    this.onTime = onTime;
    this.buffers = null;
    this.sources = [];
    this.gains = [];
    this.muted = urls.map(() => false);
    this.solo = urls.map(() => false);
    this.loop = false;
    this.offset = 0; // seconds into the piece while paused
    this.playing = false;
  }

  get duration() {
    return this.buffers ? Math.max(...this.buffers.map((b) => b.duration)) : 0;
  }

  async load() {
    if (this.buffers) return;
    this.context = new AudioContext();
    this.master = this.context.createGain();
    this.master.gain.value = 1 / this.urls.length; // each stem is normalised on its own
    this.master.connect(this.context.destination);
    this.buffers = await Promise.all(this.urls.map(async (url) => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`audio ${response.status}: outputs of old generations are removed`);
      return this.context.decodeAudioData(await response.arrayBuffer());
    }));
    this.gains = this.buffers.map(() => {
      const gain = this.context.createGain();
      gain.connect(this.master);
      return gain;
    });
    this.applyGains();
  }

  time() {
    if (!this.playing) return this.offset;
    const t = this.context.currentTime - this.started;
    return this.loop ? t % this.duration : Math.min(t, this.duration);
  }

  async play() {
    await this.load();
    await this.context.resume();
    this.sources = this.buffers.map((buffer, i) => {
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      source.loop = this.loop;
      source.loopEnd = this.duration;
      source.connect(this.gains[i]);
      source.start(0, this.offset);
      return source;
    });
    this.started = this.context.currentTime - this.offset;
    this.playing = true;
    const frame = () => {
      if (!this.playing) return;
      const t = this.time();
      this.onTime(t);
      if (!this.loop && t >= this.duration) this.stop(0);
      else requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  // Stop the sound and stay at `at` seconds (the current time when not given).
  stop(at) {
    const t = at === undefined ? this.time() : at;
    for (const source of this.sources) source.stop();
    this.sources = [];
    this.playing = false;
    this.offset = t;
    this.onTime(t);
  }

  async seek(seconds) {
    const playing = this.playing;
    if (playing) this.stop(seconds);
    else { this.offset = seconds; this.onTime(seconds); }
    if (playing) await this.play();
  }

  setLoop(loop) {
    this.loop = loop;
    for (const source of this.sources) source.loop = loop;
    if (this.playing) this.started = this.context.currentTime - this.time();
  }

  // A voice is heard when it is soloed, or when none is soloed and it is not muted.
  audible(i) {
    return this.solo.some(Boolean) ? this.solo[i] : !this.muted[i];
  }

  applyGains() {
    this.gains.forEach((gain, i) => { gain.gain.value = this.audible(i) ? 1 : 0; });
  }

  toggle(kind, i) {
    this[kind][i] = !this[kind][i];
    this.applyGains();
    return this[kind][i];
  }
}
