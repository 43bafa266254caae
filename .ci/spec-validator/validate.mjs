// Validates Gavel's spec documents; run by .ci/validate-specs.
//
//   node validate.mjs asyncapi docs/asyncapi.yaml
//   node validate.mjs openapi docs/openapi.json
//
// AsyncAPI: @asyncapi/parser (the AsyncAPI JSON Schema plus its Spectral
// rules). Any diagnostic of severity error or warning fails; information
// and hints are printed only. Then every message example is checked
// against its message's payload and headers schemas with Ajv, since the
// parser's AsyncAPI 3 rules do not. OpenAPI: @readme/openapi-parser (2.0, 3.0 and
// 3.1 schemas plus its own checks); any error or warning fails.
// Exit code 0 when valid, 1 when not, 2 on a usage or read error.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import { validate as validateOpenApi, compileErrors } from '@readme/openapi-parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const SEVERITY = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

/// Checks every example of every message against its schemas; returns the
/// number of failures.
function checkExamples(path, document) {
  // The parser's schemas carry `x-parser-*` keys: not strict about keywords.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isSafeInteger(n) });
  let failures = 0;
  let checked = 0;
  for (const message of document.allMessages()) {
    message.examples().forEach((example, index) => {
      const label = `message ${message.id()} example ${example.name() ?? index + 1}`;
      const parts = [
        ['payload', example.hasPayload(), () => example.payload(), message.hasPayload() && message.payload()],
        ['headers', example.hasHeaders(), () => example.headers(), message.hasHeaders() && message.headers()],
      ];
      for (const [part, present, value, schema] of parts) {
        if (!present) continue;
        checked += 1;
        if (!schema) {
          console.log(`${path}: error ${label}: has ${part} but the message defines no ${part} schema`);
          failures += 1;
          continue;
        }
        const valid = ajv.validate(schema.json(), value());
        if (!valid) {
          failures += 1;
          for (const error of ajv.errors) {
            console.log(`${path}: error ${label} ${part}${error.instancePath}: ${error.message}`);
          }
        }
      }
    });
  }
  console.log(`${path}: ${checked} example part(s) checked against their schemas`);
  return failures;
}

async function checkAsyncApi(path) {
  const text = await readFile(path, 'utf8');
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(text, { source: resolve(path) });
  let failures = 0;
  for (const d of diagnostics) {
    const failing = d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning;
    if (failing) failures += 1;
    const where = d.path && d.path.length ? ` at ${d.path.join('.')}` : '';
    const line = d.range ? `:${d.range.start.line + 1}` : '';
    console.log(`${path}${line}: ${SEVERITY[d.severity] ?? d.severity} ${d.code}${where}: ${d.message}`);
  }
  if (!document) {
    console.log(`${path}: not a valid AsyncAPI document`);
    return false;
  }
  failures += checkExamples(path, document);
  if (failures > 0) {
    console.log(`${path}: ${failures} error/warning finding(s)`);
    return false;
  }
  const version = document.version();
  const channels = document.channels().length;
  const operations = document.operations().length;
  const messages = document.components().messages().length;
  console.log(
    `${path}: valid AsyncAPI ${version} (${channels} channels, ${operations} operations, ${messages} component messages)`,
  );
  return true;
}

async function checkOpenApi(path) {
  const result = await validateOpenApi(resolve(path));
  if (!result.valid) {
    console.log(`${path}: ${compileErrors(result)}`);
    return false;
  }
  if (result.warnings && result.warnings.length > 0) {
    console.log(`${path}: ${compileErrors(result)}`);
    return false;
  }
  console.log(`${path}: valid OpenAPI document`);
  return true;
}

const [kind, path] = process.argv.slice(2);
const checks = { asyncapi: checkAsyncApi, openapi: checkOpenApi };
if (!checks[kind] || !path) {
  console.error('usage: node validate.mjs asyncapi|openapi FILE');
  process.exit(2);
}
try {
  process.exit((await checks[kind](path)) ? 0 : 1);
} catch (error) {
  console.error(`${path}: ${error && error.message ? error.message : error}`);
  process.exit(2);
}
