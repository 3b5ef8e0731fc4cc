/**
 * Claims (`topic_claims_integration_wh`, `GET /post-purchase/v1/claims/{id}`):
 * a buyer's complaint, escalated to MercadoPago's mediation (the payment goes
 * `in_mediation`) and closed for the buyer (refunded) or the seller (approved).
 */
import { randomUUID } from 'node:crypto';
import type { SandboxCore } from './core.ts';
import { MpError, notFound } from './errors.ts';
import type { ClaimRecord } from './types.ts';
import { mpDate, mpDateOrNull } from './util.ts';

export class Claims {
  constructor(private readonly core: SandboxCore) {}

  openClaim(paymentId: number | string, reasonId = 'PNR'): ClaimRecord {
    const p = this.core.payment(paymentId);
    if (p.status !== 'approved') throw new MpError(409, 'invalid_status_transition', `Only an approved payment can be claimed; this one is ${p.status}.`);
    const now = Date.now();
    const claim: ClaimRecord = {
      id: this.core.store.claimId(),
      paymentId: p.id,
      reasonId,
      type: 'mediations',
      stage: 'claim',
      status: 'opened',
      createdAt: now,
      updatedAt: now,
      resolution: null,
    };
    this.core.store.claims.set(claim.id, claim);
    this.notifyClaim(claim, 'created');
    return claim;
  }

  /** MercadoPago steps in (stage `dispute`): the payment goes `in_mediation`. */
  escalateClaim(id: number | string): ClaimRecord {
    const claim = this.claim(id);
    if (claim.status !== 'opened' || claim.stage !== 'claim') throw new MpError(409, 'invalid_status_transition', 'Only an open claim can be escalated.');
    claim.stage = 'dispute';
    claim.updatedAt = Date.now();
    const p = this.core.payment(claim.paymentId);
    if (p.status === 'approved') this.core.transition(p, 'in_mediation', 'in_process');
    this.notifyClaim(claim, 'updated');
    return claim;
  }

  /** Closes the claim: for the buyer (`complainant`: the payment is refunded) or the seller (`respondent`: approved again). */
  resolveClaim(id: number | string, benefited: 'complainant' | 'respondent', reason?: string): ClaimRecord {
    const claim = this.claim(id);
    if (claim.status === 'closed') throw new MpError(409, 'invalid_status_transition', 'The claim is already closed.');
    const now = Date.now();
    claim.status = 'closed';
    claim.updatedAt = now;
    claim.resolution = {
      reason: reason ?? (benefited === 'complainant' ? 'payment_refunded' : 'seller_explained_functions'),
      benefited,
      closedBy: 'mediator',
      at: now,
    };
    const p = this.core.payment(claim.paymentId);
    if (p.status === 'in_mediation') this.core.transition(p, 'approved', 'accredited');
    if (benefited === 'complainant' && p.status === 'approved') this.core.refund(p.id, undefined);
    this.notifyClaim(claim, 'updated');
    return claim;
  }

  claim(id: number | string): ClaimRecord {
    const claim = /^\d+$/.test(String(id)) ? this.core.store.claims.get(Number(id)) : undefined;
    if (claim === undefined) throw notFound('Claim not found', [{ code: 'not_found', description: 'claim not found' }]);
    return claim;
  }

  claimJson(c: ClaimRecord) {
    return {
      id: c.id,
      resource_id: c.paymentId,
      status: c.status,
      type: c.type,
      stage: c.stage,
      parent_id: null,
      resource: 'payment',
      reason_id: c.reasonId,
      fulfilled: true,
      quantity_type: 'total',
      players: [
        { role: 'complainant', type: 'buyer', user_id: 1_100_000_000 + (c.paymentId % 100_000), available_actions: [] },
        {
          role: 'respondent',
          type: 'seller',
          user_id: this.core.ctx.collectorId,
          available_actions: c.status === 'opened' ? ['refund', 'send_message_to_complainant'] : [],
        },
      ],
      resolution: c.resolution === null ? null : {
        reason: c.resolution.reason,
        date_created: mpDate(c.resolution.at),
        benefited: [c.resolution.benefited],
        closed_by: c.resolution.closedBy,
        applied_coverage: false,
      },
      site_id: this.core.store.preferences.get(this.core.payment(c.paymentId).preferenceId)?.siteId ?? this.core.siteId,
      date_created: mpDate(c.createdAt),
      last_updated: mpDateOrNull(c.updatedAt),
    };
  }

  private notifyClaim(c: ClaimRecord, action: 'created' | 'updated'): void {
    this.core.notifyTopic(this.core.payment(c.paymentId), 'topic_claims_integration_wh', String(c.id), action, {
      action,
      api_version: 'v1',
      data: { id: String(c.id), resource: 'claim' },
      date_created: mpDate(Date.now()),
      id: randomUUID(),
      live_mode: false,
      type: 'topic_claims_integration_wh',
      user_id: this.core.ctx.collectorId,
    });
  }
}
