/** The DICT service's public API (re-exported by the package root): its config, start and definition, the client, the databases, the protocol. */
export { dictService, dictConfigSchema, startDict, createDictHandler, createDictState, type DictConfig, type DictConfigInput } from './server.js';
export { DictClient, DictError, type DictClientOptions, type MatchResult } from './client.js';
export { DictdDatabase, writeDictdDatabase } from './dictd-format.js';
export { DictzipReader } from './dictzip.js';
export { WordNetDatabase } from './wordnet.js';
export { DatabaseSet, loadDatabases, openDatabase, type DatabaseSource } from './databases.js';
export { HeadwordIndex, STRATEGIES as DICT_STRATEGIES } from './headwords.js';
export type { DictDatabase } from './database.js';
export * as dictProtocol from './protocol.js';
