import type { JSX } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { parseLine, plainText, type Segment } from './ansi.js';
import type { LogDocument } from './document.js';
import { searchLog, type SearchResult } from './search.js';
import { foldsHiding, shownIndex, visibleLines } from './visible.js';

/** Each row is one line high (CSS: .log-row), so any line's position is known without measuring. */
const ROW_PX = 20;
// Browsers cap an element's height (Chrome ~33 M px, Firefox ~17 M px); beyond this the
// scrollbar maps proportionally onto the lines.
const MAX_SCROLL_PX = 8_000_000;
const OVERSCAN = 6;

type Props = {
  doc: LogDocument;
  /** Changes whenever doc grows. */
  version: number;
  /** The log may still grow: offer to follow it. */
  live: boolean;
  follow: boolean;
  onFollow(follow: boolean): void;
  toolbar?: JSX.Element;
};

function highlight(segments: Segment[], query: string): JSX.Element[] {
  const needle = query.toLowerCase();
  const out: JSX.Element[] = [];
  segments.forEach((segment, i) => {
    const parts: Array<string | JSX.Element> = [];
    if (needle === '') parts.push(segment.text);
    else {
      const lower = segment.text.toLowerCase();
      let last = 0;
      for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + needle.length)) {
        parts.push(segment.text.slice(last, at), <mark key={at}>{segment.text.slice(at, at + needle.length)}</mark>);
        last = at + needle.length;
      }
      parts.push(segment.text.slice(last));
    }
    out.push(
      <span key={i} class={segment.className === '' ? undefined : segment.className} style={segment.style ?? undefined}>
        {parts}
      </span>,
    );
  });
  return out;
}

function lineFromHash(): number | null {
  const found = /^#L(\d+)$/.exec(window.location.hash);
  return found === null ? null : Number(found[1]) - 1;
}

function formatSeconds(seconds: number): string {
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
}

export function LogViewer({ doc, version, live, follow, onFollow, toolbar }: Props): JSX.Element {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [closed, setClosed] = useState<ReadonlySet<number>>(new Set());
  const [selected, setSelected] = useState<number | null>(lineFromHash);
  const [query, setQuery] = useState('');
  const [result, setResult] = useState<SearchResult | null>(null);
  const [current, setCurrent] = useState(-1);
  const programmatic = useRef(false);

  const visible = useMemo(() => visibleLines(doc, closed), [doc, closed, version]);
  // Parsed lines, kept while they scroll by: every line but the last (still growing) is final.
  const parsed = useMemo(() => new Map<number, Segment[]>(), [doc]);
  const segmentsOf = (line: number, text: string): Segment[] => {
    if (line >= doc.lines - 1) return parseLine(text);
    let segments = parsed.get(line);
    if (segments === undefined) {
      if (parsed.size > 5000) parsed.clear();
      segments = parseLine(text);
      parsed.set(line, segments);
    }
    return segments;
  };
  const count = visible === null ? doc.shownLines : visible.length;
  const total = count * ROW_PX;
  const height = Math.min(total, MAX_SCROLL_PX);
  const ratio = height > viewport ? (total - viewport) / (height - viewport) : 1;

  const scrollToIndex = useCallback(
    (index: number, where: 'center' | 'end') => {
      const element = scroller.current;
      if (element === null) return;
      const virtual = where === 'end' ? total : Math.max(0, index * ROW_PX - viewport / 3);
      const target = Math.min(height, virtual / ratio);
      // Only a real change fires a scroll event; a flag left set would swallow the user's next scroll.
      if (Math.abs(element.scrollTop - target) >= 1) {
        programmatic.current = true;
        element.scrollTop = target;
      }
      setScrollTop(element.scrollTop);
    },
    [total, viewport, height, ratio],
  );

  const revealLine = useCallback(
    (line: number) => {
      const hiding = foldsHiding(doc, closed, line);
      if (hiding.length > 0) {
        setClosed((was) => new Set([...was].filter((i) => !hiding.includes(i))));
        return; // the effect on `closed` scrolls again
      }
      scrollToIndex(shownIndex(visible, line), 'center');
    },
    [doc, closed, visible, scrollToIndex],
  );

  useLayoutEffect(() => {
    const element = scroller.current;
    if (element === null) return;
    const observer = new ResizeObserver(() => setViewport(element.clientHeight));
    observer.observe(element);
    setViewport(element.clientHeight);
    return () => observer.disconnect();
  }, []);

  useLayoutEffect(() => {
    if (follow) scrollToIndex(count - 1, 'end');
  }, [follow, version, count, scrollToIndex]);

  useEffect(() => {
    const onHash = () => {
      const line = lineFromHash();
      if (line === null) return;
      setSelected(line);
      onFollow(false);
      revealLine(line);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [revealLine, onFollow]);

  // A #L123 link opened directly: go there once the line has arrived.
  const wentToHash = useRef(false);
  useEffect(() => {
    if (wentToHash.current || selected === null || doc.shownLines <= selected) return;
    wentToHash.current = true;
    onFollow(false);
    revealLine(selected);
  }, [version, selected, doc, revealLine, onFollow]);

  // Searched again as a live log grows: matches are only added after the earlier ones, so
  // the match stepped to stays where it is (a new query starts over: see the search input).
  useEffect(() => {
    if (query === '') {
      setResult(null);
      return;
    }
    const timer = setTimeout(() => setResult(searchLog(doc, query)), 150);
    return () => clearTimeout(timer);
  }, [query, doc, version]);

  const go = (step: 1 | -1) => {
    if (result === null || result.lines.length === 0) return;
    const next = (current + step + result.lines.length) % result.lines.length;
    setCurrent(next);
    const line = result.lines[next] ?? 0;
    setSelected(line);
    onFollow(false);
    revealLine(line);
  };

  const onScroll = () => {
    const element = scroller.current;
    if (element === null) return;
    setScrollTop(element.scrollTop);
    if (programmatic.current) {
      programmatic.current = false;
      return;
    }
    const atEnd = element.scrollTop + element.clientHeight >= element.scrollHeight - ROW_PX;
    if (follow && !atEnd) onFollow(false);
  };

  const toggle = (index: number) => {
    setClosed((was) => {
      const next = new Set(was);
      if (next.has(index)) next.delete(index);
      else next.add(index);
      return next;
    });
  };

  const position = scrollTop * ratio;
  const first = Math.max(0, Math.floor(position / ROW_PX) - OVERSCAN);
  const last = Math.min(count, Math.ceil((position + viewport) / ROW_PX) + OVERSCAN);
  const offset = first * ROW_PX - position;
  const currentLine = result !== null && current >= 0 ? result.lines[current] : undefined;
  const rows: JSX.Element[] = [];
  for (let k = first; k < last; k += 1) {
    const line = visible === null ? k : (visible[k] ?? 0);
    const foldIndex = doc.headers.get(line);
    const fold = foldIndex === undefined ? undefined : doc.folds[foldIndex];
    const foldable = fold !== undefined && foldIndex !== undefined && fold.last !== fold.header;
    const isClosed = foldIndex !== undefined && closed.has(foldIndex);
    const text = doc.line(line);
    const classes = ['log-row'];
    if (line === selected) classes.push('selected');
    if (line === currentLine) classes.push('current');
    if (fold?.kind === 'section') classes.push('section');
    rows.push(
      <div key={line} class={classes.join(' ')} style={{ top: `${(k - first) * ROW_PX + offset}px` }} data-line={line + 1}>
        <a class="ln" href={`#L${line + 1}`} aria-label={`line ${line + 1}`}>
          {line + 1}
        </a>
        {foldable && foldIndex !== undefined ? (
          <button type="button" class="fold" aria-expanded={!isClosed} aria-label={`${isClosed ? 'Unfold' : 'Fold'} ${fold.kind} ${fold.kind === 'step' ? plainText(text) : fold.name}`} onClick={() => toggle(foldIndex)}>
            {isClosed ? '▸' : '▾'}
          </button>
        ) : (
          <span class="fold" aria-hidden="true" />
        )}
        {fold?.kind === 'section' ? (
          <span class="section-name">
            {fold.name}
            {fold.seconds === null ? '' : ` · ${formatSeconds(fold.seconds)}`}
          </span>
        ) : null}
        <span class="lt">{highlight(segmentsOf(line, text), query)}</span>
      </div>,
    );
  }

  const status = result === null ? '' : result.lines.length === 0 ? 'No match' : `${current < 0 ? '–' : current + 1} of ${result.lines.length}${result.capped ? '+' : ''} lines (${result.total} matches)`;

  return (
    <div class="log">
      <div class="log-toolbar" role="toolbar" aria-label="Log">
        <input
          type="search"
          class="log-search"
          placeholder="Search the log"
          aria-label="Search the log"
          value={query}
          onInput={(e) => {
            setQuery(e.currentTarget.value);
            setCurrent(-1);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              go(e.shiftKey ? -1 : 1);
            }
          }}
        />
        <button type="button" onClick={() => go(-1)} disabled={result === null || result.lines.length === 0} aria-label="Previous match">
          ↑ Prev
        </button>
        <button type="button" onClick={() => go(1)} disabled={result === null || result.lines.length === 0} aria-label="Next match">
          ↓ Next
        </button>
        <span class="log-count" role="status" aria-live="polite">
          {status}
        </span>
        <span class="spacer" />
        <button type="button" onClick={() => setClosed(new Set(doc.folds.map((_, i) => i).filter((i) => doc.folds[i]?.kind === 'section')))}>
          Fold all
        </button>
        <button type="button" onClick={() => setClosed(new Set())}>
          Unfold all
        </button>
        {live ? (
          <label class="check">
            <input type="checkbox" checked={follow} onChange={(e) => onFollow(e.currentTarget.checked)} /> Follow
          </label>
        ) : null}
        {toolbar}
      </div>
      <div class="log-scroller" ref={scroller} onScroll={onScroll} tabIndex={0} aria-label={`Log, ${count} lines`} data-lines={count}>
        <div class="log-sizer" style={{ height: `${Math.max(height, viewport)}px` }}>
          <div class="log-window" style={{ height: `${viewport}px` }}>
            {rows}
          </div>
        </div>
      </div>
    </div>
  );
}
