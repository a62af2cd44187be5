-- STATUS is an action: the messages.action CHECK admits 'status'.
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_action_check;
ALTER TABLE messages ADD CONSTRAINT messages_action_check
    CHECK (action IN ('skip', 'delay', 'help', 'undo', 'status'));
