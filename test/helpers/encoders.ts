import { ffmpegPublishArgs } from './media';
import { startCommand, TestProcess } from './processes';

/**
 * An encoder that behaves like OBS after a disconnect: it asks discovery where to publish
 * (`GET /v1/publish-url/:app/:name`) and re-publishes there. The first URL can be forced.
 */
export class RepublishingEncoder {
  readonly urls: string[] = [];
  current?: TestProcess;
  restarts = 0;
  private stopped = false;

  constructor(private readonly discoveryUrl: string, readonly name: string, first?: string, private readonly extra: string[] = []) {
    void this.loop(first);
  }

  private async loop(first?: string): Promise<void> {
    let url = first;
    while (!this.stopped) {
      url ??= await this.ask();
      if (!url) {
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      this.urls.push(url);
      this.current = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(url, { extra: this.extra })], `encoder-${this.name}`);
      await this.current.waitExit();
      if (this.stopped) return;
      this.restarts++;
      url = undefined;
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  private async ask(): Promise<string | undefined> {
    try {
      const res = await fetch(`${this.discoveryUrl}/v1/publish-url/live/${this.name}`);
      return res.ok ? (await res.text()).trim() : undefined;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.current?.stop('SIGKILL');
  }
}
