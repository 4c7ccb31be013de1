// SPDX-License-Identifier: MIT
// imapflow_test.mjs - imapflow (Node.js) against mailroom's IMAP, driven by
// tests/proto/test_imap_imapflow.py.
//
//   node imapflow_test.mjs SCENARIO CONFIG-JSON
//
// CONFIG gives host, imapPort (STARTTLS), imapsPort (implicit TLS), ca (the
// server certificate's PEM file, which is self-signed), servername (the
// name in it), user, pass. Every scenario uses imapflow's own API.
//
// Output is JSON lines on stdout. {"ask": STEP, ...} asks the Python side to
// do something in another session (deliver by SMTP, change flags over
// IMAP, delete over POP3); it answers with one line on stdin once done.
// The last line is {"result": ...}, or {"error": ...} with exit status 1.
// Every wait is bounded; the whole run ends after config.timeout seconds.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ImapFlow } from 'imapflow';

const [scenario, configText] = process.argv.slice(2);
const config = JSON.parse(configText || '{}');
const ca = readFileSync(config.ca);

function out(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function fail(err) {
    out({ error: String((err && err.stack) || err), code: err && err.code, response: err && err.response });
    process.exit(1);
}

setTimeout(() => fail(new Error('scenario ' + scenario + ' timed out')), (config.timeout || 45) * 1000);

// imapflow's log goes to stderr, which the Python side shows when a check
// fails; debug lines (the protocol, without literals) only with MR_DEBUG.
const debug = !!process.env.MR_DEBUG;
function logLine(level, obj) {
    process.stderr.write(level + ' ' + JSON.stringify(obj, (k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
}
const logger = {
    debug: obj => debug && logLine('debug', obj),
    info: obj => logLine('info', obj),
    warn: obj => logLine('warn', obj),
    error: obj => logLine('error', obj)
};

// Answers from the Python side, one line each.
const lines = [];
const waiters = [];
createInterface({ input: process.stdin }).on('line', line => {
    const w = waiters.shift();
    if (w) w(line);
    else lines.push(line);
});

async function ask(step, data) {
    out(Object.assign({ ask: step }, data || {}));
    const line = lines.length ? lines.shift() : await new Promise(resolve => waiters.push(resolve));
    return JSON.parse(line);
}

// The client for port kind 'starttls' or 'tls'; opts go over the defaults.
function client(kind, opts) {
    const base = {
        host: config.host,
        port: kind === 'tls' ? config.imapsPort : config.imapPort,
        secure: kind === 'tls',
        doSTARTTLS: kind === 'tls' ? undefined : true,
        servername: config.servername,
        tls: { ca: [ca], rejectUnauthorized: true },
        auth: { user: config.user, pass: config.pass },
        logger,
        connectionTimeout: 10000,
        greetingTimeout: 10000,
        socketTimeout: 30000
    };
    return new ImapFlow(Object.assign(base, opts || {}));
}

// Waits until pred() holds, at most ms milliseconds.
async function until(pred, ms, what) {
    const deadline = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
        await new Promise(r => setTimeout(r, 20));
    }
}

const flagList = flags => [...(flags || [])].sort();
const sha256 = buf => createHash('sha256').update(buf).digest('hex');

function addr(list) {
    return (list || []).map(a => a.address);
}

function structure(node) {
    if (!node) return null;
    const s = { type: node.type };
    if (node.encoding) s.encoding = node.encoding;
    if (node.parameters && node.parameters.charset) s.charset = node.parameters.charset;
    if (node.childNodes) s.parts = node.childNodes.map(structure);
    return s;
}

// Logins: STARTTLS on the imap port, implicit TLS on imaps, both checking
// the certificate against the CA; a wrong password; no login before TLS;
// no TLS without the CA.
async function scenarioAuth() {
    const result = {};
    for (const kind of ['starttls', 'tls']) {
        const c = client(kind);
        await c.connect();
        result[kind] = {
            authenticated: !!c.authenticated,
            secure: !!c.secureConnection,
            imap4rev2: c.capabilities.has('IMAP4rev2'),
            idle: c.capabilities.has('IDLE'),
            qresync: c.capabilities.has('QRESYNC'),
            inbox: (await c.status('INBOX', { messages: true })).messages
        };
        await c.logout();
    }
    const bad = client('tls', { auth: { user: config.user, pass: 'wrong-' + config.pass } });
    try {
        await bad.connect();
        result.wrongPassword = 'accepted';
        await bad.logout();
    } catch (err) {
        result.wrongPassword = err.authenticationFailed ? 'authenticationFailed' : String(err);
    }
    // doSTARTTLS false: LOGIN on the plain connection, which the server
    // refuses (LOGINDISABLED, NO [PRIVACYREQUIRED])
    const plain = client('starttls', { doSTARTTLS: false });
    try {
        await plain.connect();
        result.plaintext = 'accepted';
        await plain.logout();
    } catch (err) {
        result.plaintext = err.authenticationFailed ? 'authenticationFailed' : String(err.code || err);
    }
    const untrusted = client('tls', { tls: { rejectUnauthorized: true } });
    try {
        await untrusted.connect();
        result.untrusted = 'accepted';
        await untrusted.logout();
    } catch (err) {
        result.untrusted = String(err.code || err.message);
    }
    return result;
}

// A full sync: LIST, then STATUS, SELECT and FETCH of every message of
// every folder.
async function scenarioSync() {
    const c = client('tls');
    await c.connect();
    const folders = {};
    for (const f of await c.list()) {
        const status = await c.status(f.path, { messages: true, uidNext: true, uidValidity: true, unseen: true, highestModseq: true });
        const entry = {
            specialUse: f.specialUse || null,
            delimiter: f.delimiter,
            status: { messages: status.messages, uidNext: status.uidNext, unseen: status.unseen, uidValidity: String(status.uidValidity) },
            messages: []
        };
        if (!(f.flags && f.flags.has('\\Noselect'))) {
            const box = await c.mailboxOpen(f.path, { readOnly: true });
            entry.exists = box.exists;
            entry.uidValidity = String(box.uidValidity);
            if (box.exists > 0) {
                for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true, source: true, size: true, internalDate: true })) {
                    entry.messages.push({
                        seq: m.seq,
                        uid: m.uid,
                        flags: flagList(m.flags),
                        size: m.size,
                        internalDate: m.internalDate instanceof Date ? m.internalDate.toISOString() : String(m.internalDate),
                        subject: m.envelope.subject,
                        messageId: m.envelope.messageId,
                        from: addr(m.envelope.from),
                        to: addr(m.envelope.to),
                        structure: structure(m.bodyStructure),
                        sourceLength: m.source.length,
                        sourceSha256: sha256(m.source)
                    });
                }
            }
            await c.mailboxClose();
        }
        folders[f.path] = entry;
    }
    await c.logout();
    return { folders };
}

// IDLE on INBOX: a delivery arrives as EXISTS, another session's flag change
// as FETCH, a POP3 deletion as EXPUNGE (or VANISHED with qresync).
async function scenarioIdle() {
    const c = client('starttls', { qresync: !!config.qresync, disableAutoIdle: true });
    await c.connect();
    const events = { exists: [], flags: [], expunge: [] };
    c.on('exists', e => events.exists.push({ count: e.count, prevCount: e.prevCount }));
    c.on('flags', e => events.flags.push({ seq: e.seq, uid: e.uid, flags: flagList(e.flags), modseq: e.modseq && String(e.modseq) }));
    c.on('expunge', e => events.expunge.push({ seq: e.seq, uid: e.uid, vanished: e.vanished, earlier: !!e.earlier }));
    const box = await c.mailboxOpen('INBOX');
    const uids = [];
    for await (const m of c.fetch('1:*', { uid: true })) uids.push(m.uid);
    const first = { uid: uids[0] };
    const result = { exists0: box.exists, enabled: [...c.enabled].sort() };

    // client.idle() resolves only once IDLE ends (the next command ends it)
    const idling = c.idle();
    await until(() => c.idling, 5000, 'IDLE');
    await ask('deliver');
    await until(() => events.exists.length > 0, 10000, 'EXISTS after the delivery');
    const flagged = await ask('flag', { uid: uids[1] });
    await until(() => events.flags.some(e => e.uid === flagged.uid), 10000, 'FETCH FLAGS from the other session');
    await ask('pop3-delete', { uid: first.uid });
    await until(() => events.expunge.length > 0, 10000, 'the expunge of the POP3 deletion');
    result.stillIdling = !!c.idling;
    result.events = events;
    result.firstUid = first.uid;
    result.flaggedUid = flagged.uid;
    await c.noop(); // ends IDLE
    await idling;
    result.existsAfter = c.mailbox.exists;
    await c.logout();
    return result;
}

// QRESYNC: a first session records UIDVALIDITY, HIGHESTMODSEQ and the UIDs;
// another session changes flags and expunges; a second session opens INBOX
// with that state and must get exactly those changes.
async function scenarioQresync() {
    const c1 = client('tls', { qresync: true, disableAutoIdle: true });
    await c1.connect();
    const box1 = await c1.mailboxOpen('INBOX');
    const uids = [];
    for await (const m of c1.fetch('1:*', { uid: true, flags: true })) uids.push(m.uid);
    const state = { uidValidity: box1.uidValidity, highestModseq: box1.highestModseq };
    const enabled1 = [...c1.enabled].sort();
    await c1.logout();

    const changes = await ask('change', { uids, highestModseq: String(state.highestModseq) });

    const c2 = client('tls', { qresync: true, disableAutoIdle: true });
    const events = { flags: [], expunge: [] };
    c2.on('flags', e => events.flags.push({ uid: e.uid, flags: flagList(e.flags), modseq: e.modseq && String(e.modseq) }));
    c2.on('expunge', e => events.expunge.push({ seq: e.seq, uid: e.uid, vanished: e.vanished, earlier: !!e.earlier }));
    await c2.connect();
    const box2 = await c2.mailboxOpen('INBOX', { uidValidity: state.uidValidity, changedSince: state.highestModseq });
    const atSelect = JSON.parse(JSON.stringify(events));
    // CONDSTORE's FETCH (CHANGEDSINCE) through imapflow's fetch options; with
    // uid and QRESYNC, imapflow adds VANISHED to it
    events.flags = [];
    events.expunge = [];
    const changed = [];
    for await (const m of c2.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: state.highestModseq })) {
        changed.push({ uid: m.uid, flags: flagList(m.flags), modseq: m.modseq && String(m.modseq) });
    }
    const afterFetch = JSON.parse(JSON.stringify(events));
    await c2.logout();
    return {
        enabled: enabled1,
        uids,
        uidValidity: String(state.uidValidity),
        highestModseq: String(state.highestModseq),
        changes,
        reopen: { uidValidity: String(box2.uidValidity), highestModseq: String(box2.highestModseq), exists: box2.exists, qresync: !!box2.qresync },
        atSelect,
        changedSince: changed,
        afterFetch
    };
}

const scenarios = { auth: scenarioAuth, sync: scenarioSync, idle: scenarioIdle, qresync: scenarioQresync };
if (!scenarios[scenario]) fail(new Error('no scenario ' + scenario));
scenarios[scenario]()
    .then(result => {
        out({ result });
        process.exit(0);
    })
    .catch(fail);
