import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'rabbitmq-unreachable',
  title: 'An OpenStack service cannot reach RabbitMQ',
  references: ['oslo.messaging: oslo_messaging/_drivers/impl_rabbit.py (reconnect error log)'],
  severity: 'warning',
  literals: ['AMQP server on '],
  pattern:
    /AMQP server on (?<server>\S+?):(?<port>\d+) is unreachable: (?<error>.+?)(?:\. Trying again in (?<retrySeconds>\d+) seconds)?\.?$/,
  examples: [
    '2024-05-01 11:00:00.500 7 ERROR oslo.messaging._drivers.impl_rabbit [-] [76ff78aa-c627-4858-9e9e-33bb74ee97aa] AMQP server on 10.0.0.5:5672 is unreachable: [Errno 111] ECONNREFUSED. Trying again in 1 seconds.',
  ],
  describe: (values) => ({
    server: `${values.server ?? '?'}:${values.port ?? '?'}`,
    error: values.error ?? null,
  }),
});
