// The answer renderer's parser (crates/http/ui/js/markdown.js), without a
// browser: what each piece of Markdown becomes, and that markup in upstream
// text stays text. The browser tests check the rendered page.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parse, parseInline } from '../../crates/http/ui/js/markdown.js';

describe('answer Markdown', () => {
  test('paragraphs split on blank lines; a single newline is a line break', () => {
    assert.deepEqual(parse('one\ntwo\n\nthree'), [
      { type: 'paragraph', children: [{ type: 'text', text: 'one' }, { type: 'break' }, { type: 'text', text: 'two' }] },
      { type: 'paragraph', children: [{ type: 'text', text: 'three' }] },
    ]);
  });

  test('a fenced code block keeps its text verbatim, markup and Markdown included', () => {
    const [block] = parse('```js\nconst a = "<b>**x**</b>";\n\nlet b;\n```');
    assert.deepEqual(block, { type: 'code', lang: 'js', text: 'const a = "<b>**x**</b>";\n\nlet b;' });
  });

  test('an unclosed fence runs to the end of the answer', () => {
    assert.deepEqual(parse('~~~\nstill streaming'), [{ type: 'code', lang: '', text: 'still streaming' }]);
  });

  test('bullet and numbered lists, with the number they start at', () => {
    const [bullets, numbers] = parse('- a\n- **b**\n\n3. c\n4. d');
    assert.equal(bullets.type, 'list');
    assert.equal(bullets.ordered, false);
    assert.deepEqual(bullets.items, [[{ type: 'text', text: 'a' }], [{ type: 'strong', children: [{ type: 'text', text: 'b' }] }]]);
    assert.equal(numbers.ordered, true);
    assert.equal(numbers.start, 3);
    assert.equal(numbers.items.length, 2);
  });

  test('headings, quotes and rules', () => {
    const blocks = parse('## Title\n> quoted\n\n---');
    assert.deepEqual(
      blocks.map((b) => b.type),
      ['heading', 'quote', 'rule'],
    );
    assert.equal(blocks[0].level, 2);
    assert.equal(blocks[1].children[0].type, 'paragraph');
  });

  test('inline code, emphasis and strong', () => {
    assert.deepEqual(parseInline('use `a*b*c` and *this* or __that__'), [
      { type: 'text', text: 'use ' },
      { type: 'code', text: 'a*b*c' },
      { type: 'text', text: ' and ' },
      { type: 'em', children: [{ type: 'text', text: 'this' }] },
      { type: 'text', text: ' or ' },
      { type: 'strong', children: [{ type: 'text', text: 'that' }] },
    ]);
  });

  test('snake_case and a lone asterisk stay text', () => {
    assert.deepEqual(parseInline('my_var_name is 2 * 3'), [{ type: 'text', text: 'my_var_name is 2 * 3' }]);
  });

  test('http, https and mailto links are links; other schemes are only their text', () => {
    assert.deepEqual(parseInline('[docs](https://example.com/a?b=1)'), [
      { type: 'link', href: 'https://example.com/a?b=1', children: [{ type: 'text', text: 'docs' }] },
    ]);
    assert.deepEqual(parseInline('[click](javascript:void-0)'), [{ type: 'span', children: [{ type: 'text', text: 'click' }] }]);
    assert.equal(parseInline('[x](data:text/html,<script>)')[0].type, 'span');
  });

  test('HTML in an answer is plain text, never an element', () => {
    const blocks = parse('<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>');
    assert.deepEqual(blocks, [
      { type: 'paragraph', children: [{ type: 'text', text: '<script>alert(1)</script>' }] },
      { type: 'paragraph', children: [{ type: 'text', text: '<img src=x onerror=alert(1)>' }] },
    ]);
  });

  test('a backslash escapes Markdown punctuation', () => {
    assert.deepEqual(parseInline('\\*not em\\*'), [{ type: 'text', text: '*not em*' }]);
  });
});
