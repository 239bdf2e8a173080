/** Notify templates: pure logic (parse, validate, render, SMS cost, version diff); no I/O. */
export { diffParts, type PartChange, type PartDiff } from './diff.ts';
export {
  type CompiledTemplate,
  compile,
  engineFor,
  MEMORY_LIMIT,
  PARSE_LIMIT,
  type PartKind,
  RENDER_LIMIT_MS,
  TEMPLATE_LIMIT,
} from './engine.ts';
export {
  type Channel,
  type CompiledDefinition,
  compileDefinition,
  type DeclaredVariable,
  type EmailParts,
  htmlToText,
  MissingVariableError,
  type PushParts,
  partKind,
  type RenderedParts,
  renderDefinition,
  type SmsParts,
  type TemplateDefinition,
} from './parts.ts';
export { type SmsEncoding, type SmsSegments, smsSegments } from './sms-segments.ts';
export { type TemplateProblem, validateDefinition } from './validate.ts';
