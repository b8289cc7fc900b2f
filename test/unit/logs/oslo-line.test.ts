import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOsloLine } from '../../../src/logs/oslo-line.js';

describe('parseOsloLine', () => {
  it('parses the full oslo.log prefix with its request id', () => {
    assert.deepEqual(
      parseOsloLine(
        '2024-05-01 12:38:01.998 7 INFO nova.compute.rpcapi [req-7bc75c8d-a3c2-4961-81d3-91e2cfe2f382 - - - - -] Automatically selected compute RPC version 4.17 from minimum service version 22',
      ),
      {
        timestamp: '2024-05-01 12:38:01.998',
        pid: 7,
        level: 'INFO',
        logger: 'nova.compute.rpcapi',
        requestId: 'req-7bc75c8d-a3c2-4961-81d3-91e2cfe2f382',
        message: 'Automatically selected compute RPC version 4.17 from minimum service version 22',
      },
    );
  });

  it('parses traceback lines, which have no context bracket', () => {
    const line = parseOsloLine(
      '2024-05-01 12:05:33.840 35 ERROR oslo_messaging.rpc.server Traceback (most recent call last):',
    );
    assert.equal(line.logger, 'oslo_messaging.rpc.server');
    assert.equal(line.requestId, null);
    assert.equal(line.message, 'Traceback (most recent call last):');
  });

  it('keeps an [instance: …] message prefix in the message', () => {
    const line = parseOsloLine(
      '2024-05-01 10:00:00.000 9 WARNING nova.compute.manager [instance: 44c356ef-edd0-43a3-bd46-17aed65ea1a6] Instance shutdown by itself.',
    );
    assert.equal(
      line.message,
      '[instance: 44c356ef-edd0-43a3-bd46-17aed65ea1a6] Instance shutdown by itself.',
    );
  });

  it("accepts pasted excerpts: time without date, and grep's `file.log:` label", () => {
    const line = parseOsloLine(
      'nova-consoleauth.log: 13:43:15.488 7 INFO nova.compute.rpcapi [req-48feeaab-63f0-44a7-b2fe-90134ec61d82 - - - - -] Automatically selected compute RPC version 5.0 from minimum service version 35',
    );
    assert.equal(line.timestamp, '13:43:15.488');
    assert.equal(line.pid, 7);
    assert.equal(line.requestId, 'req-48feeaab-63f0-44a7-b2fe-90134ec61d82');
  });

  it('returns the whole line as the message when there is no prefix', () => {
    const line = parseOsloLine('modprobe: FATAL: Module kvm_intel is in use.');
    assert.equal(line.timestamp, null);
    assert.equal(line.message, 'modprobe: FATAL: Module kvm_intel is in use.');
  });
});
