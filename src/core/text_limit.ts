/**
 * Fitting a message into a chat API's size limit.
 *
 * Each API counts differently (WeCom in UTF-8 bytes, Slack in characters,
 * Feishu in bytes of the whole JSON body), so the caller says how a piece
 * of text is measured. Text is cut only between grapheme clusters: a cut
 * inside a multibyte character gives the API invalid UTF-8, and a cut
 * inside an emoji sequence or a combining mark shows a broken glyph.
 *
 * @module
 */

/** Appended to a message that was cut, so that readers know text is missing. */
export const TRUNCATION_MARKER = "… [truncated]";

const encoder = new TextEncoder();
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Size of `text` in UTF-8 bytes. */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** Size of `text` in UTF-16 code units (what `String.length` counts; never fewer than characters). */
export function utf16Units(text: string): number {
  return text.length;
}

/** Size of `text` once written inside a JSON string, in UTF-8 bytes. */
export function jsonStringBytes(text: string): number {
  return utf8Bytes(JSON.stringify(text)) - 2;
}

/** Options of {@linkcode truncateText}. */
export interface TruncateOptions {
  /**
   * Size of a piece of text in the API's unit; {@linkcode utf8Bytes} by
   * default. It must be additive (the size of `a + b` is the size of `a`
   * plus the size of `b`), which every measure in this module is.
   */
  measure?: (text: string) => number;
  /** Appended when text is cut; {@linkcode TRUNCATION_MARKER} by default. */
  marker?: string;
}

/**
 * Returns `text` unchanged when it fits in `limit`, else its longest
 * prefix of whole grapheme clusters that fits together with the marker,
 * followed by the marker. When not even the marker fits, the marker is
 * left out rather than exceeding the limit.
 */
export function truncateText(text: string, limit: number, options: TruncateOptions = {}): string {
  const measure = options.measure ?? utf8Bytes;
  const marker = options.marker ?? TRUNCATION_MARKER;
  if (measure(text) <= limit) return text;
  const markerSize = measure(marker);
  const withMarker = markerSize <= limit;
  const budget = withMarker ? limit - markerSize : limit;
  let used = 0;
  let end = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    const size = measure(segment);
    if (used + size > budget) break;
    used += size;
    end = index + segment.length;
  }
  return text.slice(0, end) + (withMarker ? marker : "");
}
