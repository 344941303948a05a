// Markdown for answers, built as DOM nodes. Upstream text is untrusted: it is
// parsed into a small tree (`parse`) and every piece of text goes into the page
// as a text node (`render`), so `<script>` or `<img onerror>` in an answer
// shows as those characters and never becomes markup. Links keep only http,
// https and mailto targets, and open in a new tab without `window.opener`.
//
// What is understood: paragraphs (a single newline is a line break), headings,
// bullet and numbered lists, block quotes, horizontal rules, fenced code
// blocks (``` or ~~~, with a copy button), inline code, **strong**, *emphasis*
// and [links](https://…). Anything else stays as plain text.

import { h } from './dom.js';

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const ITEM = /^ {0,3}([-*+]|(\d{1,9})[.)])[ \t]+(.*)$/;
const QUOTE = /^ {0,3}>[ \t]?(.*)$/;
const SAFE_LINK = /^(https?:\/\/|mailto:)/i;

/** Parses `text` into blocks: `{type, …}` objects with inline children. */
export function parse(text) {
  return parseBlocks(
    String(text ?? '')
      .replace(/\r\n?/g, '\n')
      .split('\n'),
  );
}

function parseBlocks(lines) {
  const blocks = [];
  let paragraph = [];
  const endParagraph = () => {
    if (paragraph.length) blocks.push({ type: 'paragraph', children: parseInline(paragraph.join('\n')) });
    paragraph = [];
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      endParagraph();
      const [, marker, lang] = fence;
      const body = [];
      i++;
      while (i < lines.length && !isClosingFence(lines[i], marker)) body.push(lines[i++]);
      blocks.push({ type: 'code', lang, text: body.join('\n') });
      continue;
    }
    if (!line.trim()) {
      endParagraph();
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      endParagraph();
      blocks.push({ type: 'heading', level: heading[1].length, children: parseInline(heading[2]) });
      continue;
    }
    if (RULE.test(line)) {
      endParagraph();
      blocks.push({ type: 'rule' });
      continue;
    }
    if (QUOTE.test(line)) {
      endParagraph();
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) quoted.push(QUOTE.exec(lines[i++])[1]);
      i--;
      blocks.push({ type: 'quote', children: parseBlocks(quoted) });
      continue;
    }
    const item = ITEM.exec(line);
    if (item) {
      endParagraph();
      i = parseList(lines, i, blocks);
      continue;
    }
    paragraph.push(line);
  }
  endParagraph();
  return blocks;
}

function isClosingFence(line, marker) {
  const trimmed = line.trim();
  return trimmed.length >= marker.length && trimmed === marker[0].repeat(trimmed.length);
}

/** Reads one list starting at `start`; returns the index of its last line. */
function parseList(lines, start, blocks) {
  const first = ITEM.exec(lines[start]);
  const ordered = first[2] !== undefined;
  const list = { type: 'list', ordered, start: ordered ? Number(first[2]) : 1, items: [] };
  let current = null;
  let i = start;
  for (; i < lines.length; i++) {
    const line = lines[i];
    const item = ITEM.exec(line);
    if (item && (item[2] !== undefined) === ordered) {
      current = [item[3]];
      list.items.push(current);
    } else if (line.trim() && /^\s/.test(line) && current) {
      current.push(line.trim());
    } else if (!line.trim() && sameListContinues(lines, i + 1, ordered)) {
      // A blank line between two items keeps the list going.
    } else {
      break;
    }
  }
  list.items = list.items.map((text) => parseInline(text.join('\n')));
  blocks.push(list);
  return i - 1;
}

function sameListContinues(lines, next, ordered) {
  const item = next < lines.length ? ITEM.exec(lines[next]) : null;
  return Boolean(item) && (item[2] !== undefined) === ordered;
}

/** Parses inline Markdown into `{type: 'text'|'code'|'strong'|'em'|'link'|'break', …}`. */
export function parseInline(text) {
  const out = [];
  let plain = '';
  const flush = () => {
    if (plain) out.push({ type: 'text', text: plain });
    plain = '';
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && /[!-/:-@[-`{-~]/.test(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '\n') {
      flush();
      out.push({ type: 'break' });
      i++;
      continue;
    }
    if (c === '`') {
      const run = /^`+/.exec(text.slice(i))[0];
      const close = text.indexOf(run, i + run.length);
      if (close !== -1) {
        flush();
        out.push({ type: 'code', text: text.slice(i + run.length, close).replace(/\n/g, ' ') });
        i = close + run.length;
        continue;
      }
      plain += run;
      i += run.length;
      continue;
    }
    if (c === '[') {
      const link = /^\[([^\]\n]+)\]\(\s*(\S+?)(?:\s+"[^"\n]*")?\s*\)/.exec(text.slice(i));
      if (link) {
        flush();
        const children = parseInline(link[1]);
        out.push(SAFE_LINK.test(link[2]) ? { type: 'link', href: link[2], children } : { type: 'span', children });
        i += link[0].length;
        continue;
      }
    }
    if (c === '*' || c === '_') {
      const emphasis = delimited(text, i, c);
      if (emphasis) {
        flush();
        out.push({ type: emphasis.strong ? 'strong' : 'em', children: parseInline(emphasis.inner) });
        i = emphasis.end;
        continue;
      }
    }
    plain += c;
    i++;
  }
  flush();
  return out;
}

/** `**x**`/`__x__` or `*x*`/`_x_` starting at `i`, if it closes on the same line. */
function delimited(text, i, c) {
  // `_` inside a word (snake_case) is not emphasis.
  if (c === '_' && i > 0 && /\w/.test(text[i - 1])) return null;
  const strong = text[i + 1] === c;
  const marker = strong ? c + c : c;
  const start = i + marker.length;
  if (start >= text.length || /\s/.test(text[start])) return null;
  let close = text.indexOf(marker, start);
  while (close !== -1) {
    const inner = text.slice(start, close);
    const followedByWord = c === '_' && /\w/.test(text[close + marker.length] ?? '');
    if (inner && !inner.includes('\n') && !/\s$/.test(inner) && !followedByWord && !(strong ? false : text[close + 1] === c)) {
      return { strong, inner, end: close + marker.length };
    }
    if (inner.includes('\n')) return null;
    close = text.indexOf(marker, close + 1);
  }
  return null;
}

/** Renders Markdown `text` as an array of DOM nodes. */
export function render(text) {
  return parse(text).map(renderBlock);
}

function renderBlock(block) {
  switch (block.type) {
    case 'code':
      return codeBlock(block);
    case 'heading':
      // Answers sit under the page's own h1/h2.
      return h(`h${Math.min(block.level + 2, 6)}`, {}, renderInline(block.children));
    case 'rule':
      return h('hr');
    case 'quote':
      return h('blockquote', {}, block.children.map(renderBlock));
    case 'list':
      return h(
        block.ordered ? 'ol' : 'ul',
        { start: block.ordered && block.start !== 1 ? block.start : null },
        block.items.map((item) => h('li', {}, renderInline(item))),
      );
    default:
      return h('p', {}, renderInline(block.children));
  }
}

function renderInline(nodes) {
  return nodes.map((node) => {
    switch (node.type) {
      case 'text':
        return node.text;
      case 'break':
        return h('br');
      case 'code':
        return h('code', {}, node.text);
      case 'strong':
        return h('strong', {}, renderInline(node.children));
      case 'em':
        return h('em', {}, renderInline(node.children));
      case 'link':
        return h('a', { href: node.href, target: '_blank', rel: 'noopener noreferrer' }, renderInline(node.children));
      default:
        return h('span', {}, renderInline(node.children));
    }
  });
}

function codeBlock({ lang, text }) {
  const copy = h('button', { type: 'button', class: 'button secondary small copy-code' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = 'Copied';
    } catch {
      copy.textContent = 'Copy failed';
    }
    setTimeout(() => {
      copy.textContent = 'Copy';
    }, 2000);
  });
  return h(
    'div',
    { class: 'code-block' },
    h('div', { class: 'code-head' }, h('span', { class: 'code-lang' }, lang || 'code'), copy),
    h('pre', {}, h('code', { dataset: lang ? { lang } : null }, text)),
  );
}
