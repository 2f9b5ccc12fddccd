import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import type { ServerConfig } from '../../config/index.js';
import { decryptSecret } from '../../crypto/index.js';
import { WEBHOOK_SECRET_NAME, deliveryIdOf, intentOf, verifyWebhook, webhookProviders } from '../../triggers/index.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { projectParams } from '../schemas.js';
import { projectByName } from './projects.js';

const answer = z.object({
  status: z.enum(['triggered', 'pong', 'ignored', 'duplicate']),
  note: z.string().optional(),
  buildId: z.number().int().optional(),
  number: z.number().int().optional(),
});

/** Push webhooks, one route per provider: public, authenticated by the project's WEBHOOK_SECRET. */
export function webhookRoutes(config: ServerConfig): AnyRoute[] {
  return webhookProviders.map((provider) =>
    defineRoute({
      method: 'POST',
      path: `/api/v1/webhooks/${provider}/:name`,
      summary: `A ${provider === 'github' ? 'GitHub' : provider === 'gitea' ? 'Gitea' : 'GitLab'} push webhook: builds the pushed commit. Authenticated by the project secret ${WEBHOOK_SECRET_NAME}`,
      scope: 'public',
      rawBody: { maxBytes: config.webhooks.maxBodyBytes },
      params: projectParams,
      response: answer,
      handler: async (ctx, { params, body, request }) => {
        const raw = body as unknown as Buffer;
        const project = await projectByName(ctx.store, params.name);
        const sealed = (await ctx.store.secrets.listEncrypted(project.id)).find((s) => s.name === WEBHOOK_SECRET_NAME);
        if (sealed === undefined) {
          throw new SlipwayError(
            'UNAUTHORIZED',
            `project ${project.name} has no ${WEBHOOK_SECRET_NAME} secret, so no webhook can be verified; set one (slipway project secret set ${project.name} ${WEBHOOK_SECRET_NAME}) and give the same value to ${provider}`,
          );
        }
        const secret = decryptSecret(ctx.secretsKey, { projectId: project.id, name: WEBHOOK_SECRET_NAME }, sealed.ciphertext);
        if (!verifyWebhook(provider, secret, raw, request.headers)) {
          throw new SlipwayError('UNAUTHORIZED', `the ${provider} webhook signature does not match project ${project.name}'s ${WEBHOOK_SECRET_NAME}`);
        }
        const deliveryId = deliveryIdOf(provider, request.headers);
        if (deliveryId === undefined || deliveryId === '') throw new SlipwayError('USAGE', `the ${provider} delivery id header is missing`);
        let payload: unknown;
        try {
          payload = JSON.parse(raw.toString('utf8'));
        } catch (error) {
          throw new SlipwayError('USAGE', 'the webhook body is not JSON; configure the webhook with content type application/json', { cause: error });
        }
        const intent = intentOf(provider, request.headers, payload);
        if (intent.kind === 'ping') return { status: 'pong' as const };
        if (intent.kind === 'ignore') return { status: 'ignored' as const, note: intent.note };
        // Recorded before building: a replayed delivery (a provider's retry, or a captured request sent again) starts nothing.
        if (!(await ctx.store.webhookDeliveries.recordOnce({ projectId: project.id, provider, deliveryId }))) {
          return { status: 'duplicate' as const, note: `delivery ${deliveryId} was received before; no build started` };
        }
        const build = await ctx.builds.trigger({ projectId: project.id, ref: intent.ref, commitSha: intent.after, beforeSha: intent.before, variables: {}, source: 'webhook' });
        return { status: 'triggered' as const, buildId: build.buildId, number: build.number };
      },
    }),
  );
}
