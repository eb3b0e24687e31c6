/** codec: sans-I/O framers. Bytes in, frames out; every decoder has a mandatory maximum. */
export type { ByteOrder, FrameDecoder, FrameEncoder } from './types.js';
export { CodecError, FrameFormatError, FrameTooLargeError, TruncatedFrameError } from './errors.js';
export { LineDecoder, LineEncoder, Utf8StreamDecoder } from './line.js';
export type { LineDecoderOptions, LineEncoderOptions, LineFrame, LineOutput } from './line.js';
export { LengthPrefixDecoder, LengthPrefixEncoder } from './length-prefix.js';
export type { LengthFieldBytes, LengthPrefixDecoderOptions, LengthPrefixOptions } from './length-prefix.js';
export { HeaderFrameDecoder, encodeHeaderFrame } from './header-frame.js';
export type {
  HeaderFrameBodyEvent,
  HeaderFrameDecoderOptions,
  HeaderFrameEncodeOptions,
  HeaderFrameEndEvent,
  HeaderFrameEvent,
  HeaderFrameHeaderEvent,
  HeaderFrameOptions,
} from './header-frame.js';
