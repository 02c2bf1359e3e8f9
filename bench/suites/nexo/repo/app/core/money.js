'use strict';

// Todos los importes son enteros en céntimos. Los porcentajes (IVA, descuentos) se aplican
// con percentOf, que redondea half up al céntimo: nunca Math.floor ni floats sueltos.

function assertCents(value, name) {
  if (!Number.isInteger(value)) {
    throw new TypeError(`${name} debe ser un entero en céntimos, no ${value}`);
  }
}

function percentOf(cents, percent) {
  assertCents(cents, 'cents');
  if (!Number.isInteger(percent)) {
    throw new TypeError(`percent debe ser un entero, no ${percent}`);
  }
  const product = cents * percent;
  const sign = product < 0 ? -1 : 1;
  return sign * Math.floor((Math.abs(product) + 50) / 100);
}

function formatEuros(cents) {
  assertCents(cents, 'cents');
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const euros = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return `${sign}${euros},${String(abs % 100).padStart(2, '0')} €`;
}

module.exports = { percentOf, formatEuros };
