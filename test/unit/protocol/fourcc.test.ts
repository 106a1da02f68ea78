import { answerFourCcList, parseFourCcList } from '../../../protocol/rtmp/fourcc';

describe('E-RTMP fourCcList negotiation', () => {
  test.each<[string, unknown, string[] | null]>([
    ['absent (a legacy client)', undefined, null],
    ['not an array', 'hvc1', null],
    ['strings of 4 characters and "*"', ['hvc1', 'av01', '*', 'Opus'], ['hvc1', 'av01', '*', 'Opus']],
    ['drops non-strings, wrong lengths, duplicates', ['hvc1', 7, 'toolong', 'hvc1', null], ['hvc1']],
    ['too many entries', Array.from({ length: 65 }, () => 'hvc1'), null],
  ])('parse: %s', (_name, value, expected) => {
    expect(parseFourCcList(value as never)).toEqual(expected);
  });

  test.each<[string, string[], string[]]>([
    ['keeps what passes through, in the client order', ['vvc9', 'Opus', 'hvc1', 'av01'], ['Opus', 'hvc1', 'av01']],
    ['"*" gets every FourCC we pass', ['*'], ['avc1', 'hvc1', 'av01', 'vp09', 'vp08', 'vvc1', 'mp4a', 'Opus', 'ac-3', 'ec-3', 'fLaC', '.mp3']],
    ['nothing known', ['xxxx'], []],
  ])('answer: %s', (_name, asked, expected) => {
    expect(answerFourCcList(asked)).toEqual(expected);
  });
});
