import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Organization, ProjectSetting, Reference } from '@medplum/fhirtypes';
import { parseWebhookSecrets } from './router/signature';

/**
 * Bot configuration, read from the Project secrets that Medplum hands every bot run
 * (`event.secrets`). See docs/configuration.md for each setting.
 */
export interface BotConfig {
  /** `STRIPE_WEBHOOK_SECRET`: one or several `whsec_…`, comma-separated (rotation). */
  readonly webhookSecrets: readonly string[];
  /** `PAYEE_ORGANIZATION`: the clinic that Stripe pays, e.g. `Organization/123`. */
  readonly payee?: Reference<Organization>;
  /** `STRIPE_OPERATORS`: references allowed to post unsigned events (replays). */
  readonly operators: readonly string[];
  /** `STRIPE_LIVEMODE`: unset accepts both modes. */
  readonly livemode?: boolean;
}

export const SECRET_NAME = {
  webhookSecret: 'STRIPE_WEBHOOK_SECRET',
  payee: 'PAYEE_ORGANIZATION',
  operators: 'STRIPE_OPERATORS',
  livemode: 'STRIPE_LIVEMODE',
} as const;

export function readConfig(secrets: Record<string, ProjectSetting> | undefined): BotConfig {
  const text = (name: string): string | undefined => {
    const value = secrets?.[name]?.valueString?.trim();
    return value ? value : undefined;
  };
  const payee = text(SECRET_NAME.payee);
  if (payee !== undefined && !/^Organization\/[A-Za-z0-9\-.]{1,64}$/.test(payee)) {
    throw configError(`${SECRET_NAME.payee} must be a reference such as "Organization/123"`);
  }
  return {
    webhookSecrets: parseWebhookSecrets(text(SECRET_NAME.webhookSecret)),
    ...(payee && { payee: { reference: payee } }),
    operators: (text(SECRET_NAME.operators) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    ...readLivemode(secrets?.[SECRET_NAME.livemode]),
  };
}

function readLivemode(setting: ProjectSetting | undefined): { livemode?: boolean } {
  if (setting?.valueBoolean !== undefined) {
    return { livemode: setting.valueBoolean };
  }
  const value = setting?.valueString?.trim().toLowerCase();
  if (!value) {
    return {};
  }
  if (value !== 'true' && value !== 'false') {
    throw configError(`${SECRET_NAME.livemode} must be "true" or "false" (or unset to accept both modes)`);
  }
  return { livemode: value === 'true' };
}

function configError(message: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(`Configuration error: ${message}`));
}
