import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * A queue at the end of a failure path (an on-failure destination, a dead-letter queue): encrypted,
 * TLS only, 14 days to act on its messages, and no queue behind it, acknowledged with `why`.
 */
export function deadLetterQueue(scope: Construct, id: string, why: string): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const reason = `${why}; a queue behind it would add nothing.`;
  Validations.of(queue).acknowledge(
    { id: 'AwsSolutions-SQS3', reason },
    { id: 'Serverless-SQSRedrivePolicy', reason },
  );
  return queue;
}
