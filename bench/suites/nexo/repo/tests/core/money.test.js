'use strict';

const { percentOf, formatEuros } = require('../../app/core/money');

describe('percentOf', () => {
  test('redondea half up al céntimo', () => {
    expect(percentOf(1005, 10)).toBe(101);
    expect(percentOf(1004, 10)).toBe(100);
    expect(percentOf(999, 21)).toBe(210);
  });

  test('rechaza importes que no son céntimos enteros', () => {
    expect(() => percentOf(10.5, 21)).toThrow(TypeError);
  });
});

describe('formatEuros', () => {
  test('formatea con separador de miles y coma decimal', () => {
    expect(formatEuros(123456)).toBe('1.234,56 €');
    expect(formatEuros(5)).toBe('0,05 €');
  });
});
