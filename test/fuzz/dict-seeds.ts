import { encodeSaslPlain } from '../../src/services/dict/protocol.js';

const session = (...lines: string[]): Buffer => Buffer.from(lines.map((line) => `${line}\r\n`).join(''));

/** RFC 2229 sessions and wharf's account extensions (the seed's R, L, Q and H). */
export const SEEDS = [
  session('DEFINE * abandon', 'MATCH * prefix ab', 'QUIT'),
  session('SHOW DB', 'SHOW STRAT', 'SHOW INFO seed', 'SHOW SERVER', 'STATUS', 'HELP'),
  session('CLIENT fuzz 1.0', 'OPTION MIME', 'DEFINE seed "café"', 'DEFINE ! "Zürich"'),
  session('MATCH seed re "^a.*n$"', 'MATCH * soundex hello', 'MATCH ! lev caf', 'MATCH * regexp "a\\{1,3\\}"'),
  session('MATCH * substring an', 'MATCH * suffix on', 'MATCH * word meals', 'MATCH * nprefix 1 2 a'),
  session('XREGISTER fuzzer s3cret-pass', `SASLAUTH PLAIN ${encodeSaslPlain('fuzzer', 's3cret-pass')}`, 'DEFINE * twice', 'XHISTORY 5', 'XLOGOUT'),
  session('SASLAUTH PLAIN', `SASLRESP ${encodeSaslPlain('fuzzer', 'wrong')}`, 'XHISTORY'),
  session('AUTH fuzzer 0123456789abcdef0123456789abcdef', 'DEFINE * 你好', 'MATCH * exact 你好'),
  session('MATCH * re "(a|aa)*b"', 'MATCH * re "((((a*)*)*)*)*$"', 'MATCH * re "[[:alpha:]]{2,}"'),
];

