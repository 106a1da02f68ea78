import type AVPacket from 'node-media-server/src/core/avpacket.js';
import type { BaseSession, RtmpSession } from '../../mediaserver/nms-host';
import { PublisherHold, ViewerHold } from '../../origin/media-hold';

function packet(bytes: number[], scratch?: Buffer): AVPacket {
  const data = scratch ?? Buffer.alloc(64);
  Buffer.from(bytes).copy(data);
  return { codec_id: 7, codec_type: 9, duration: 0, flags: 4, pts: 0, dts: 0, size: bytes.length, offset: 0, data } as AVPacket;
}

function fakePublisher(): { session: RtmpSession; delivered: number[][] } {
  const delivered: number[][] = [];
  const rtmp = { onPacketCallback: (p: AVPacket) => delivered.push([...p.data.subarray(0, p.size)]) };
  return { session: { rtmp } as unknown as RtmpSession, delivered };
}

describe('PublisherHold', () => {
  test('buffers copies of packets (NMS reuses its chunk buffer) and replays them in order after beforeReplay', () => {
    const { session, delivered } = fakePublisher();
    const hold = new PublisherHold(session);
    const scratch = Buffer.alloc(64);
    session.rtmp.onPacketCallback(packet([1, 2, 3], scratch));
    session.rtmp.onPacketCallback(packet([4, 5], scratch)); // overwrites the same buffer
    expect(delivered).toEqual([]);
    expect(hold.bufferedBytes).toBe(5);
    const order: string[] = [];
    hold.release(() => {
      order.push('tap');
      const inner = session.rtmp.onPacketCallback;
      session.rtmp.onPacketCallback = (p) => {
        order.push(`tapped ${p.size}`);
        inner(p);
      };
    });
    expect(order).toEqual(['tap', 'tapped 3', 'tapped 2']);
    expect(delivered).toEqual([[1, 2, 3], [4, 5]]);
    session.rtmp.onPacketCallback(packet([6]));
    expect(delivered).toEqual([[1, 2, 3], [4, 5], [6]]);
  });

  test('drop discards held media and ignores what follows; release afterwards does nothing', () => {
    const { session, delivered } = fakePublisher();
    const hold = new PublisherHold(session);
    session.rtmp.onPacketCallback(packet([1]));
    hold.drop();
    session.rtmp.onPacketCallback(packet([2]));
    hold.release();
    expect(delivered).toEqual([]);
  });

  test('overflow drops everything and calls onOverflow once', () => {
    const { session, delivered } = fakePublisher();
    const onOverflow = jest.fn();
    new PublisherHold(session, { maxBytes: 4, onOverflow });
    session.rtmp.onPacketCallback(packet([1, 2, 3]));
    session.rtmp.onPacketCallback(packet([4, 5]));
    session.rtmp.onPacketCallback(packet([6, 7]));
    expect(onOverflow).toHaveBeenCalledTimes(1);
    expect(delivered).toEqual([]);
  });
});

describe('ViewerHold', () => {
  function fakeViewer(): { session: BaseSession; sent: string[] } {
    const sent: string[] = [];
    return { session: { sendBuffer: (b: Buffer) => sent.push(b.toString()) } as unknown as BaseSession, sent };
  }

  test('holds what NMS sends until release, then sends it in order', () => {
    const { session, sent } = fakeViewer();
    const hold = new ViewerHold(session);
    session.sendBuffer(Buffer.from('gop1'));
    session.sendBuffer(Buffer.from('gop2'));
    expect(sent).toEqual([]);
    hold.release();
    session.sendBuffer(Buffer.from('live'));
    expect(sent).toEqual(['gop1', 'gop2', 'live']);
  });

  test('drop sends nothing, ever', () => {
    const { session, sent } = fakeViewer();
    const hold = new ViewerHold(session);
    session.sendBuffer(Buffer.from('gop1'));
    hold.drop();
    session.sendBuffer(Buffer.from('more'));
    hold.release();
    expect(sent).toEqual([]);
  });

  test('overflow calls onOverflow and drops', () => {
    const { session, sent } = fakeViewer();
    const onOverflow = jest.fn();
    new ViewerHold(session, { maxBytes: 5, onOverflow });
    session.sendBuffer(Buffer.from('1234'));
    session.sendBuffer(Buffer.from('5678'));
    expect(onOverflow).toHaveBeenCalledTimes(1);
    expect(sent).toEqual([]);
  });
});
