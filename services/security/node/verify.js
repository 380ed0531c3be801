#!/usr/bin/env node
// Offline Sigstore bundle verification with npm's own verifier (@sigstore/verify).
//
// Called by portico_security.adapters.sigstore_node: {"items": [request, ...]}
// on stdin, {"results": [answer, ...]} (same order) on stdout, exit code 0
// whenever the answers were written (each says whether its bundle verified).
// Nothing here talks to the network: the trusted root and the managed keys
// come in the request.
//
// Request:
//   { "bundle": <Sigstore bundle JSON>,
//     "artifact": "<base64>" | null,        // null: verify the DSSE envelope alone
//     "trusted_root": <TrustedRoot JSON>,
//     "keys": [{ "keyid": "..." | null, "spki": "<base64 DER>", "expires": "<ISO 8601>" | null }],
//     "identity": "..." | null, "issuer": "..." | null }
// Answer:
//   { "ok": true, "signer": { "identity": "...", "issuer": "..." } | null,
//     "key_hint": "..." | null, "payload_type": "..." | null, "payload": "<base64>" | null }
//   { "ok": false, "kind": "malformed" | "verification" | "policy" | "input", "message": "..." }
'use strict';

const crypto = require('node:crypto');
const { bundleFromJSON, ValidationError } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const {
  Verifier,
  toSignedEntity,
  toTrustMaterial,
  VerificationError,
  PolicyError,
} = require('@sigstore/verify');

function fail(kind, message) {
  return { ok: false, kind, message: String(message) };
}

function keyFinder(keys) {
  const byId = new Map();
  let anyHint = null;
  for (const k of keys || []) {
    const publicKey = crypto.createPublicKey({
      key: Buffer.from(k.spki, 'base64'),
      format: 'der',
      type: 'spki',
    });
    const expires = k.expires ? new Date(k.expires) : null;
    const entry = {
      publicKey,
      // npm's rule: a signature by an expired key is valid only when it was
      // made (per its transparency-log time) before the key expired.
      validFor: (date) => expires === null || date < expires,
    };
    // A key without an id is the one key this verification trusts, whatever
    // hint the bundle carries (Sigstore's managed-key verification).
    if (k.keyid == null || k.keyid === '') anyHint = entry;
    else byId.set(k.keyid, entry);
  }
  return (hint) => {
    const key = byId.get(hint) || anyHint;
    if (!key) {
      throw new VerificationError({
        code: 'PUBLIC_KEY_ERROR',
        message: `no trusted key with id ${JSON.stringify(hint)}`,
      });
    }
    return key;
  };
}

function run(request) {
  let bundle;
  try {
    bundle = bundleFromJSON(request.bundle);
  } catch (err) {
    if (err instanceof ValidationError || err instanceof TypeError || err instanceof SyntaxError) {
      return fail('malformed', `malformed bundle: ${err.message}`);
    }
    throw err;
  }
  let trustMaterial;
  try {
    trustMaterial = toTrustMaterial(TrustedRoot.fromJSON(request.trusted_root), keyFinder(request.keys));
  } catch (err) {
    return fail('input', `unusable trusted root or keys: ${err.message}`);
  }
  const artifact = request.artifact == null ? undefined : Buffer.from(request.artifact, 'base64');
  const policy = {};
  if (request.identity) policy.subjectAlternativeName = request.identity;
  if (request.issuer) policy.extensions = { issuer: request.issuer };
  let signer;
  try {
    const entity = toSignedEntity(bundle, artifact);
    signer = new Verifier(trustMaterial).verify(entity, policy);
  } catch (err) {
    if (err instanceof PolicyError) return fail('policy', `${err.code}: ${err.message}`);
    if (err instanceof VerificationError) return fail('verification', `${err.code}: ${err.message}`);
    return fail('malformed', `bundle cannot be verified: ${err.message}`);
  }
  const envelope = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : null;
  const vm = bundle.verificationMaterial.content;
  return {
    ok: true,
    signer: signer.identity
      ? {
          identity: signer.identity.subjectAlternativeName || '',
          issuer: (signer.identity.extensions && signer.identity.extensions.issuer) || '',
        }
      : null,
    key_hint: vm.$case === 'publicKey' ? vm.publicKey.hint : null,
    payload_type: envelope ? envelope.payloadType : null,
    payload: envelope ? Buffer.from(envelope.payload).toString('base64') : null,
  };
}

function runSafely(request) {
  try {
    return run(request || {});
  } catch (err) {
    return fail('malformed', `unexpected verifier failure: ${err && err.message}`);
  }
}

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  let items;
  try {
    items = JSON.parse(Buffer.concat(chunks).toString('utf8')).items;
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: `request is not JSON: ${err.message}` }) + '\n');
    return;
  }
  if (!Array.isArray(items)) {
    process.stdout.write(JSON.stringify({ error: 'request has no "items" array' }) + '\n');
    return;
  }
  process.stdout.write(JSON.stringify({ results: items.map(runSafely) }) + '\n');
});
