import { describe, expect, it } from 'vitest';
import { EXAMPLE_SCORING_REQUEST, ScoringRequestSchema, ageOn, validateScoringRequestRules, type ScoringRequest } from '../../src/contracts/scoring-request.js';
import { validate } from '../../src/contracts/validation.js';
import { DELETE, mutate, paths } from './helpers.js';

const TODAY = '2025-03-14';
const valid: ScoringRequest = structuredClone(EXAMPLE_SCORING_REQUEST) as ScoringRequest;
const refinance: ScoringRequest = { ...valid, purpose: 'refinance', downPayment: 0, loanAmount: 30_000_000, firstTimeBuyer: false };

function rulePaths(req: ScoringRequest, asOf = TODAY): string[] {
  return paths(validateScoringRequestRules(req, asOf));
}

describe('ScoringRequestSchema', () => {
  it('accepts the example, with and without the optional fields', () => {
    expect(validate(ScoringRequestSchema, valid)).toEqual([]);
    const minimal = mutate(mutate(mutate(valid, '/firstTimeBuyer', DELETE), '/property/postalCode', DELETE), '/veteran', DELETE);
    expect(validate(ScoringRequestSchema, minimal)).toEqual([]);
    expect(validate(ScoringRequestSchema, { ...valid, veteran: true })).toEqual([]);
  });

  it.each([
    ['/applicant/name', ''],
    ['/applicant/name', '   '],
    ['/applicant/name', 'x'.repeat(201)],
    ['/applicant/email', 'jane@'],
    ['/applicant/email', `${'a'.repeat(250)}@x.io`],
    ['/applicant/dateOfBirth', '1988-02-30'],
    ['/applicant/dateOfBirth', '12/04/1988'],
    ['/annualIncome', -1],
    ['/annualIncome', 1.5],
    ['/annualIncome', 100_000_000_01],
    ['/monthlyDebts', -100],
    ['/creditScore', 299],
    ['/creditScore', 851],
    ['/creditScore', 700.5],
    ['/employment/status', 'student'],
    ['/employment/years', -1],
    ['/employment/years', 71],
    ['/loanAmount', 999_999],
    ['/loanAmount', 50_000_000_01],
    ['/propertyValue', 0],
    ['/downPayment', -1],
    ['/termYears', 40],
    ['/termYears', '30'],
    ['/purpose', 'cash_out'],
    ['/propertyType', 'castle'],
    ['/occupancy', 'vacation'],
    ['/property/state', 'ca'],
    ['/property/state', 'XX'],
    ['/property/postalCode', '9410'],
    ['/property/postalCode', '94107-1234'],
    ['/veteran', 'yes'],
    ['/firstTimeBuyer', 1],
    ['/applicant/ssn', '123-45-6789'],
  ])('rejects %s = %j', (path, value) => {
    expect(paths(validate(ScoringRequestSchema, mutate(valid, path, value)))).toContain(path);
  });

  it.each(['applicant', 'annualIncome', 'monthlyDebts', 'creditScore', 'employment', 'loanAmount', 'propertyValue', 'downPayment', 'termYears', 'purpose', 'propertyType', 'occupancy', 'property'])(
    'requires %s',
    (key) => {
      expect(validate(ScoringRequestSchema, mutate(valid, `/${key}`, DELETE))).toContainEqual({ path: `/${key}`, message: 'is required' });
    },
  );

  it('accepts every allowed term', () => {
    for (const termYears of [10, 15, 20, 25, 30]) expect(validate(ScoringRequestSchema, { ...valid, termYears })).toEqual([]);
  });
});

describe('validateScoringRequestRules', () => {
  it('accepts the example purchase and a plain refinance', () => {
    expect(validateScoringRequestRules(valid, TODAY)).toEqual([]);
    expect(validateScoringRequestRules(refinance, TODAY)).toEqual([]);
  });

  describe('1. applicant age', () => {
    it('computes whole years around the birthday', () => {
      expect(ageOn('2007-03-14', '2025-03-14')).toBe(18);
      expect(ageOn('2007-03-15', '2025-03-14')).toBe(17);
      expect(ageOn('2000-02-29', '2025-02-28')).toBe(24);
      expect(ageOn('2000-02-29', '2025-03-01')).toBe(25);
      expect(ageOn('nope', '2025-03-01')).toBeUndefined();
    });
    it('accepts an 18th birthday today, rejects the day before', () => {
      expect(rulePaths(mutate(valid, '/applicant/dateOfBirth', '2007-03-14'))).toEqual([]);
      expect(validateScoringRequestRules(mutate(valid, '/applicant/dateOfBirth', '2007-03-15'), TODAY)).toEqual([
        { path: '/applicant/dateOfBirth', message: 'applicant must be at least 18 years old' },
      ]);
    });
    it('rejects a birth date in the future and one over 120 years ago', () => {
      expect(rulePaths(mutate(valid, '/applicant/dateOfBirth', '2030-01-01'))).toEqual(['/applicant/dateOfBirth']);
      expect(rulePaths(mutate(valid, '/applicant/dateOfBirth', '1900-01-01'))).toEqual(['/applicant/dateOfBirth']);
    });
    it('takes "today" from the caller (date or date-time)', () => {
      const dob = mutate(valid, '/applicant/dateOfBirth', '2007-03-15');
      expect(rulePaths(dob, '2025-03-15T00:00:00Z')).toEqual([]);
      expect(rulePaths(dob, '2025-03-14T23:59:59Z')).toEqual(['/applicant/dateOfBirth']);
    });
  });

  it('2. down payment not above the property value', () => {
    const req = { ...refinance, downPayment: refinance.propertyValue + 1 };
    expect(rulePaths(req)).toContain('/downPayment');
    expect(validateScoringRequestRules(req, TODAY)).toContainEqual({ path: '/downPayment', message: 'must not exceed propertyValue' });
  });

  it('3. loan not above the property value, refinance (cash-out) included', () => {
    expect(rulePaths({ ...refinance, loanAmount: refinance.propertyValue + 1 })).toEqual(['/loanAmount']);
    expect(rulePaths({ ...refinance, loanAmount: refinance.propertyValue })).toEqual([]);
  });

  it('4. purchase: loan + down payment = property value, within $1', () => {
    expect(rulePaths({ ...valid, loanAmount: valid.loanAmount + 100 })).toEqual([]);
    expect(rulePaths({ ...valid, loanAmount: valid.loanAmount - 100 })).toEqual([]);
    expect(rulePaths({ ...valid, loanAmount: valid.loanAmount + 101 })).toEqual(['/loanAmount']);
    expect(rulePaths({ ...valid, loanAmount: valid.loanAmount - 5_000_000 })).toEqual(['/loanAmount']);
  });

  it('5. purchase: at least 3% down, unless VA eligible', () => {
    const threePercent = { ...valid, downPayment: 1_350_000, loanAmount: 43_650_000 };
    expect(rulePaths(threePercent)).toEqual([]);
    const below = { ...valid, downPayment: 1_349_999, loanAmount: 43_650_001 };
    expect(rulePaths(below)).toEqual(['/downPayment']);
    const zeroDown = { ...valid, downPayment: 0, loanAmount: valid.propertyValue };
    expect(rulePaths(zeroDown)).toEqual(['/downPayment']);
    expect(rulePaths({ ...zeroDown, veteran: true })).toEqual([]);
    expect(rulePaths({ ...zeroDown, veteran: false })).toEqual(['/downPayment']);
  });

  it('6. refinance: no down payment', () => {
    expect(rulePaths({ ...refinance, downPayment: 100 })).toEqual(['/downPayment']);
  });

  it('7. first-time buyer only on a purchase', () => {
    expect(rulePaths({ ...refinance, firstTimeBuyer: true })).toEqual(['/firstTimeBuyer']);
    expect(rulePaths({ ...valid, firstTimeBuyer: true })).toEqual([]);
  });

  it('8. unemployed: 0 years of employment', () => {
    expect(rulePaths({ ...valid, employment: { status: 'unemployed', years: 2 } })).toEqual(['/employment/years']);
    expect(rulePaths({ ...valid, employment: { status: 'unemployed', years: 0 } })).toEqual([]);
  });

  it('9. employed or self-employed: income above 0', () => {
    expect(rulePaths({ ...valid, annualIncome: 0 })).toEqual(['/annualIncome']);
    expect(rulePaths({ ...valid, annualIncome: 0, employment: { status: 'self_employed', years: 3 } })).toEqual(['/annualIncome']);
    expect(rulePaths({ ...valid, annualIncome: 0, employment: { status: 'retired', years: 0 } })).toEqual([]);
  });

  it('reports every broken rule at once', () => {
    const bad: ScoringRequest = {
      ...refinance,
      applicant: { ...refinance.applicant, dateOfBirth: '2010-01-01' },
      downPayment: refinance.propertyValue + 1,
      loanAmount: refinance.propertyValue + 1,
      firstTimeBuyer: true,
      employment: { status: 'unemployed', years: 1 },
    };
    expect(rulePaths(bad).sort()).toEqual(['/applicant/dateOfBirth', '/downPayment', '/downPayment', '/employment/years', '/firstTimeBuyer', '/loanAmount']);
  });
});
