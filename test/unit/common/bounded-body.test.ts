import { Readable } from 'node:stream';
import { readBoundedText } from '../../../common/bounded-body';

describe('readBoundedText', () => {
  it.each<[string, Array<string | Buffer>, number, string | null]>([
    ['empty body', [], 10, ''],
    ['one chunk under the bound', ['hello'], 10, 'hello'],
    ['exactly the bound', ['hello', 'world'], 10, 'helloworld'],
    ['one byte over: abandoned', ['hello', 'world!'], 10, null],
    ['a multi-byte character counts in bytes', ['é'.repeat(5)], 9, null],
    ['buffers and strings mixed', [Buffer.from('ab'), 'cd'], 4, 'abcd'],
  ])('%s', async (_what, chunks, max, expected) => {
    const body = Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
    await expect(readBoundedText(body, max)).resolves.toBe(expected);
  });

  it('stops reading and destroys the body once over the bound', async () => {
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(1024));
      },
    });
    await expect(readBoundedText(body, 4096)).resolves.toBeNull();
    expect(body.destroyed).toBe(true);
    expect(pulled).toBeLessThan(20);
  });
});
