// Validates FHIR R4 JSON with the two npm validators of field-notes §6: `fhir` (FHIR.js:
// structure, cardinality, value sets; errorOnUnexpected) and @asymmetrik/fhir-json-schema-validator
// (the official R4 JSON schema). Each catches errors the other misses, so both run on everything:
// a Bundle whole, and each of its entries' resources; an NDJSON file line by line.
//
//   node validate.mjs DIR            an export directory: bundle.json and every *.ndjson
//   node validate.mjs FILE...        Bundle or resource JSON files, or NDJSON files
//   node validate.mjs --stdin        one JSON document a line in, one result a line out (the
//                                    test FHIR server keeps one process for all it receives)
// Prints JSON: {"checked": N, "errors": [{"where", "validator", "message"}...], "counts": {type: n}}
// ("errors" holds the first 50; "nerrors" counts all). Exit status 0 when there is no error.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Fhir } = require('fhir');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const fhir = new Fhir();
const schema = new JSONSchemaValidator();

function collect(result, where, validator, message) {
    result.nerrors++;
    if (result.errors.length < 50)
        result.errors.push({ where, validator, message });
}

// One resource (or a whole Bundle) through both validators.
function check(result, where, res) {
    result.checked++;
    result.counts[res.resourceType] = (result.counts[res.resourceType] || 0) + 1;
    const a = fhir.validate(res, { errorOnUnexpected: true });
    for (const m of a.messages || [])
        if (m.severity === 'error' || m.severity === 'fatal')
            collect(result, where, 'fhir', `${m.location || ''}: ${m.message}`);
    if (!a.valid && !(a.messages || []).some(m => m.severity === 'error' || m.severity === 'fatal'))
        collect(result, where, 'fhir', 'not valid');
    // A fresh copy each time: the schema validator's error path changes its schema object.
    const b = schema.validate(JSON.parse(JSON.stringify(res)));
    for (const e of b || [])
        collect(result, where, 'json-schema',
                typeof e === 'string' ? e : `${e.dataPath || e.instancePath || ''} ${e.message}`);
}

function checkDocument(result, where, doc) {
    if (!doc || typeof doc !== 'object' || !doc.resourceType) {
        collect(result, where, 'json', 'not a FHIR resource');
        return;
    }
    check(result, where, doc);
    if (doc.resourceType === 'Bundle')
        (doc.entry || []).forEach((e, i) => {
            if (e && e.resource)
                check(result, `${where} entry[${i}] ${e.resource.resourceType}`, e.resource);
        });
}

function checkFile(result, file) {
    const text = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.ndjson')) {
        text.split('\n').forEach((line, i) => {
            if (line === '')
                return;
            let doc;
            try {
                doc = JSON.parse(line);
            } catch (e) {
                collect(result, `${path.basename(file)}:${i + 1}`, 'json', e.message);
                return;
            }
            checkDocument(result, `${path.basename(file)}:${i + 1}`, doc);
        });
        if (text.length && !text.endsWith('\n'))
            collect(result, path.basename(file), 'ndjson', 'the last line has no newline');
    } else {
        let doc;
        try {
            doc = JSON.parse(text);
        } catch (e) {
            collect(result, path.basename(file), 'json', e.message);
            return;
        }
        checkDocument(result, path.basename(file), doc);
    }
}

function newResult() {
    return { checked: 0, nerrors: 0, errors: [], counts: {} };
}

const args = process.argv.slice(2);
if (args[0] === '--stdin') {
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of rl) {
        const result = newResult();
        try {
            checkDocument(result, 'body', JSON.parse(line));
        } catch (e) {
            collect(result, 'body', 'json', e.message);
        }
        process.stdout.write(JSON.stringify(result) + '\n');
    }
} else {
    if (!args.length) {
        console.error('usage: node validate.mjs DIR | FILE... | --stdin');
        process.exit(2);
    }
    const result = newResult();
    for (const a of args) {
        if (fs.statSync(a).isDirectory()) {
            for (const f of fs.readdirSync(a).sort())
                if (f.endsWith('.json') || f.endsWith('.ndjson'))
                    checkFile(result, path.join(a, f));
        } else {
            checkFile(result, a);
        }
    }
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(result.nerrors ? 1 : 0);
}
