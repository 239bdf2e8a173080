import { describe, expect, it } from 'vitest';
import {
  compile,
  compileDefinition,
  type DeclaredVariable,
  diffParts,
  MissingVariableError,
  renderDefinition,
  smsSegments,
  type TemplateDefinition,
  validateDefinition,
} from '../../src/notify/templates/index.ts';

const email = (
  html: string,
  variables: DeclaredVariable[] = [{ name: 'user' }],
  subject = 'Hi',
): TemplateDefinition => ({
  channel: 'email',
  parts: { subject, html },
  variables,
});

describe('validate', () => {
  it('reports a parse error with part, line and column', () => {
    const problems = validateDefinition(email('<p>\n  {% if user %}\nno end'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ part: 'html', kind: 'parse', line: 2, column: 3 });
    expect(problems[0]!.message).toContain('not closed');
  });

  it('refuses an undeclared variable, naming it and where it first appears', () => {
    const problems = validateDefinition(email('ok {{ user.name }}\n\n  {{ evnt.title }} {{ evnt.date }}'));
    expect(problems).toEqual([
      expect.objectContaining({ part: 'html', kind: 'undeclared', variable: 'evnt', line: 3, column: 6 }),
    ]);
  });

  it('accepts loop and assigned locals', () => {
    const def: TemplateDefinition = {
      channel: 'sms',
      parts: {
        text: '{% for t in tickets %}{{ t.seat }}{{ forloop.index }}{% endfor %}{% assign n = 1 %}{{ n }}',
      },
      variables: [{ name: 'tickets' }],
    };
    expect(validateDefinition(def)).toEqual([]);
    expect(validateDefinition({ ...def, variables: [] })).toEqual([
      expect.objectContaining({ variable: 'tickets' }),
    ]);
  });

  it('refuses an unknown filter at parse', () => {
    expect(validateDefinition(email('{{ user | nope }}'))[0]).toMatchObject({ kind: 'parse', line: 1 });
  });
});

describe('render', () => {
  it('fails on an undefined variable (strictVariables)', () => {
    expect(() => compile('Hi {{ nobody }}', 'text').render({})).toThrow(/undefined variable: nobody/);
  });

  it('blocks prototype access (ownPropertyOnly)', () => {
    const tpl = compile('{{ user.constructor }}', 'text');
    expect(() => tpl.render({ user: { name: 'a' } })).toThrow(/undefined variable/);
    expect(() => compile('{{ user.__proto__ }}', 'text').render({ user: {} })).toThrow(/undefined variable/);
    expect(compile('{{ user.name }}', 'text').render({ user: { name: 'a' } })).toBe('a');
  });

  it('escapes HTML in the html part only', () => {
    const name = '<b>Tom & "Jerry"</b>';
    const email: TemplateDefinition = {
      channel: 'email',
      parts: { subject: 'For {{ name }}', html: '<p>{{ name }}</p>', text: 'Hi {{ name }}' },
      variables: [{ name: 'name' }],
    };
    const out = renderDefinition(email, { name });
    expect(out.html).toBe('<p>&lt;b&gt;Tom &amp; &#34;Jerry&#34;&lt;/b&gt;</p>');
    expect(out.text).toBe(`Hi ${name}`);
    expect(out.subject).toBe(`For ${name}`);
    const sms = renderDefinition(
      { channel: 'sms', parts: { text: '{{ name }}' }, variables: [{ name: 'name' }] },
      { name },
    );
    expect(sms.text).toBe(name);
  });

  it('cannot include files', () => {
    expect(() => compile("{% include '/etc/passwd' %}", 'text').render({})).toThrow(/Failed to lookup/);
    expect(() => compile("{% render 'package.json' %}", 'text').render({})).toThrow(/Failed to lookup/);
  });

  it('stops a huge loop at the memory limit instead of rendering it', () => {
    const tpl = compile('{% for i in (1..100000000) %}x{% endfor %}', 'text');
    expect(() => tpl.render({})).toThrow(/limit exceeded/);
  });

  it('derives the email text from the HTML when absent', () => {
    const out = renderDefinition(email('<h1>Your tickets</h1><p>Seat {{ user.seat }}</p>'), {
      user: { seat: 'A1' },
    });
    expect(out.text).toContain('Seat A1');
    expect(out.text).not.toContain('<');
    expect(out.text!.toUpperCase()).toContain('YOUR TICKETS');
  });

  it('names a missing required variable', () => {
    const def = compileDefinition(email('{{ user }}', [{ name: 'user', required: true }]));
    expect(() => def.render({})).toThrow(MissingVariableError);
    expect(() => def.render({})).toThrow(/user/);
    expect(def.render({ user: 'x' }).html).toBe('x');
  });
});

describe('smsSegments', () => {
  it('counts GSM-7', () => {
    expect(smsSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(smsSegments('a'.repeat(161))).toEqual({ encoding: 'GSM-7', segments: 2, units: 161 });
    expect(smsSegments('a'.repeat(306)).segments).toBe(2);
    expect(smsSegments('a'.repeat(307)).segments).toBe(3);
  });

  it("counts '€' as two septets", () => {
    expect(smsSegments('€')).toEqual({ encoding: 'GSM-7', segments: 1, units: 2 });
    expect(smsSegments('€' + 'a'.repeat(159)).segments).toBe(2);
  });

  it('counts UCS-2 for Cyrillic', () => {
    expect(smsSegments('ж'.repeat(70))).toEqual({ encoding: 'UCS-2', segments: 1, units: 70 });
    expect(smsSegments('ж'.repeat(71))).toEqual({ encoding: 'UCS-2', segments: 2, units: 71 });
  });

  it('counts an emoji as two units and never splits it', () => {
    expect(smsSegments('🎫')).toEqual({ encoding: 'UCS-2', segments: 1, units: 2 });
    // 66 units + an emoji would be 68 > 67: the pair moves whole to part 2 (73 units, 2 parts).
    expect(smsSegments('ж'.repeat(66) + '🎫' + 'ж'.repeat(5)).segments).toBe(2);
    // 35 emoji = 70 units: one single message; 36 = 72 units: two parts of 33 + 3 pairs.
    expect(smsSegments('🎫'.repeat(35)).segments).toBe(1);
    expect(smsSegments('🎫'.repeat(36))).toEqual({ encoding: 'UCS-2', segments: 2, units: 72 });
  });
});

describe('diffParts', () => {
  it('shows changed lines of changed parts only', () => {
    const result = diffParts({ subject: 'Hi', html: 'a\nb\nc' }, { subject: 'Hi', html: 'a\nB\nc' });
    expect(result).toEqual([
      {
        part: 'html',
        changes: [
          { op: 'same', lines: ['a'] },
          { op: 'remove', lines: ['b'] },
          { op: 'add', lines: ['B'] },
          { op: 'same', lines: ['c'] },
        ],
      },
    ]);
  });
});
